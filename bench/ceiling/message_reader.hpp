// Splits a TCP byte stream into messages without copying payloads: the header is gathered into a 16-byte
// staging area (it may straddle two receives), payload bytes are only counted. Two states, as in the kernel's
// nvme-tcp receive path (enum nvme_tcp_recv_state), minus the data digest.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bench/ceiling/message.hpp"
#include "bench/ceiling/payload_memory.hpp"

namespace nvmf::bench {

class MessageReader {
 public:
  /// From now on a request's payload is copied, as it arrives, into a random block of `memory` (as a RAM
  /// namespace takes a write's data); nullptr skips payloads again.
  void copy_request_payloads_to(PayloadMemory* memory) { sink_ = memory; }

  /// Consume bytes from `data` until they run out or `on_message` returns false (the caller cannot take
  /// another message now). `on_message(const MessageHeader&, const std::uint8_t* captured)` is called once per
  /// complete message; `captured` holds the payload only for stats_answer messages. Returns bytes consumed.
  /// Throws std::runtime_error on a malformed header: the stream cannot be resynchronised.
  template <typename OnMessage>
  std::size_t feed(const std::uint8_t* data, std::size_t size, OnMessage&& on_message) {
    std::size_t used = 0;
    while (used < size) {
      switch (state_) {
        case State::header: {
          std::size_t take = std::min(sizeof header_ - have_, size - used);
          std::memcpy(reinterpret_cast<std::uint8_t*>(&header_) + have_, data + used, take);
          have_ += take;
          used += take;
          if (have_ < sizeof header_) break;
          validate();
          have_ = 0;
          remaining_ = header_.length - sizeof header_;
          destination_ = sink_ && header_.kind == MessageKind::request && remaining_ ? sink_->random_block(remaining_)
                                                                                   : nullptr;
          state_ = State::payload;
          if (remaining_ == 0 && !finish(on_message)) return used;
          break;
        }
        case State::payload: {
          std::size_t take = std::min(remaining_, size - used);
          if (header_.kind == MessageKind::stats_answer)
            std::memcpy(captured_ + (sizeof captured_ - remaining_), data + used, take);
          else if (destination_) {
            std::memcpy(destination_, data + used, take);
            destination_ += take;
          }
          remaining_ -= take;
          used += take;
          if (remaining_ == 0 && !finish(on_message)) return used;
          break;
        }
      }
    }
    return used;
  }

 private:
  enum class State { header, payload };

  template <typename OnMessage>
  bool finish(OnMessage& on_message) {
    state_ = State::header;
    return on_message(static_cast<const MessageHeader&>(header_), static_cast<const std::uint8_t*>(captured_));
  }

  void validate() const {
    auto kind = static_cast<std::uint16_t>(header_.kind);
    if (header_.length < kMinMessageSize || header_.length > kMaxMessageSize || kind < 1 || kind > 4)
      throw std::runtime_error("malformed message header: length " + std::to_string(header_.length) + ", kind " +
                               std::to_string(kind));
    if (header_.kind == MessageKind::stats_answer && header_.length != sizeof header_ + sizeof captured_)
      throw std::runtime_error("stats answer of length " + std::to_string(header_.length));
  }

  State state_ = State::header;
  MessageHeader header_{};
  std::size_t have_ = 0;       ///< Header bytes gathered so far
  std::size_t remaining_ = 0;  ///< Payload bytes still to come
  std::uint8_t captured_[sizeof(ServerStats)]{};
  PayloadMemory* sink_ = nullptr;
  std::uint8_t* destination_ = nullptr;  ///< Where the current request's next payload bytes go, if anywhere
};

}  // namespace nvmf::bench
