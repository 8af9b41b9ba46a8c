// The receive side of one NVMe/TCP connection, shared by both roles: an explicit state machine fed by io_uring
// recv completions.
//
//   common_header --(8 bytes, checked by the owner)--> header_rest --(HLEN + header digest, digest checked)-->
//   dispatch --(owner picks the data's destination, or stalls until it has a request free)--> padding -->
//   data --> data_digest --> common_header ...            any error --> stopped (the owner sends a TermReq)
//
// Bytes arrive in a per-connection staging buffer and are consumed from it; a large remainder of PDU data is
// received straight into its destination (the command's data buffer or the caller's iovecs), so bulk data is
// never copied. The data digest is folded in chunk by chunk right after the recv that brought each chunk (while
// it is still in cache), so at the digest field only the finish and compare remain. Only one recv is in flight;
// an idle connection has one recv parked in the kernel and costs no CPU.
// Over user-space TLS the same requests go to the connection's RecordStream, which decrypts into those buffers.
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "fabric/anonymous_memory.hpp"
#include "fabric/io_op.hpp"
#include "fabric/tcp/codec.hpp"

namespace nvmf::fabric {
class Reactor;
}
namespace nvmf::fabric::tls {
class RecordStream;
}

namespace nvmf::fabric::tcp {

/// Where a PDU's data goes: bytes [offset, offset + data length) of a scatter list. iov == nullptr: discard,
/// unless in_place: the data stays where it lies in the staging buffer (only when whole_data_staged() said it is
/// all there), and on_pdu() finds it at in_place_data(), valid until on_pdu() returns.
struct DataSink {
  const iovec* iov = nullptr;
  std::uint32_t iovcnt = 0;
  std::size_t offset = 0;
  bool in_place = false;
};

class PduReceiver {
 public:
  enum class Verdict { accept, stall, fatal };
  enum class State { common_header, header_rest, dispatch, padding, data, data_digest, stopped };

  class Owner {
   public:
    virtual ~Owner() = default;
    /// Validate the common header (codec's check_common_header with the owner's rules).
    virtual std::optional<FatalError> check_header(const pdu::CommonHeader& ch) = 0;
    /// The whole header (HLEN bytes, digest verified) is here. Set `sink` for its data and accept, stall (no
    /// resources: call resume() later), or reject with `error`.
    virtual Verdict on_header(const std::uint8_t* header, DataSink& sink, FatalError& error) = 0;
    /// The PDU is complete; data_digest_ok is false when a data digest was present and did not match.
    virtual void on_pdu(const std::uint8_t* header, bool data_digest_ok) = 0;
    /// A received PDU broke the protocol. `header` holds what was received of it (for the TermReq).
    virtual void on_protocol_error(const FatalError& error, const std::uint8_t* header, std::size_t len) = 0;
    /// Peer closed (error 0) or recv failed (errno); mid_pdu when it stopped inside a PDU.
    virtual void on_connection_lost(int error, bool mid_pdu) = 0;
    /// After stop(): the last recv completed, the receiver no longer touches the socket or the owner's buffers.
    virtual void on_receiver_idle() = 0;
  };

  /// `records`: the user-space TLS record layer to receive through (null: the socket itself).
  PduReceiver(Reactor& reactor, int fd, Owner& owner, std::size_t staging_size,
              tls::RecordStream* records = nullptr);
  PduReceiver(const PduReceiver&) = delete;
  PduReceiver& operator=(const PduReceiver&) = delete;

  void start();
  /// Continue after on_header() stalled.
  void resume();
  /// No more callbacks except on_receiver_idle(); a recv in flight completes when the socket is shut down.
  void stop();
  bool busy() const { return in_flight_; }
  const AnonymousMemory& staging() const { return staging_; }
  /// In on_header(): the PDU's padding, data and data digest are all in the staging buffer already.
  bool whole_data_staged() const;
  /// In on_pdu(), after an in_place sink: the PDU's data in the staging buffer.
  const std::uint8_t* in_place_data() const { return in_place_data_; }
  State state() const { return state_; }

 private:
  /// A PDU's data remainder at least this large is received straight into its destination; a smaller one comes
  /// through staging with the PDUs behind it (one recv for many 4 KiB PDUs costs less than their copies).
  static constexpr std::uint32_t kDirectThreshold = 16 * 1024;
  /// After a PDU whose data went direct, the next staging recv asks for this much only: in a stream of large
  /// PDUs (128 KiB reads) it takes the next header and a little data, and the bulk again goes direct.
  static constexpr std::size_t kBulkStreamRecv = 4096;
  static constexpr unsigned kMaxDirectIov = 16;
  static void on_recv(IoOp& op, std::int32_t res, std::uint32_t flags);
  void process();
  void advance();
  bool fill(std::uint8_t* dst, std::uint32_t& filled, std::uint32_t want);
  void consume_data();
  void arm_staging();
  void arm_direct();
  void fail(const FatalError& error, std::size_t len);
  void finish_pdu(bool digest_ok);
  std::size_t staged() const { return stage_end_ - stage_pos_; }
  std::size_t staging_size() const { return staging_.size(); }
  const pdu::CommonHeader& common() const { return *reinterpret_cast<const pdu::CommonHeader*>(hdr_); }

  Reactor& reactor_;
  int fd_;
  tls::RecordStream* records_;
  Owner& owner_;
  IoOp op_;
  State state_ = State::common_header;
  bool in_flight_ = false;
  bool direct_ = false;
  bool bulk_stream_ = false;  ///< The last PDU's data was received direct
  bool processing_ = false;
  bool stalled_ = false;

  AnonymousMemory staging_;  ///< Pages are committed as recvs reach them: an idle connection holds one or two
  std::size_t stage_pos_ = 0;
  std::size_t stage_end_ = 0;

  alignas(8) std::uint8_t hdr_[pdu::kMaxHeaderSize]{};
  std::uint32_t hdr_filled_ = 0;
  std::uint32_t header_len_ = 0;
  std::uint32_t pad_left_ = 0;
  std::uint32_t data_len_ = 0;
  std::uint32_t data_done_ = 0;
  DataSink sink_;
  const std::uint8_t* in_place_data_ = nullptr;
  bool ddgst_on_ = false;          ///< This PDU's data digest is checked (present, and the data is kept)
  std::uint32_t ddgst_state_ = 0;  ///< Running CRC32C over the data received so far
  std::uint8_t ddgst_[pdu::kDigestSize]{};
  std::uint32_t ddgst_filled_ = 0;
  msghdr msg_{};
  iovec direct_iov_[kMaxDirectIov]{};
  unsigned direct_iovcnt_ = 0;
  iovec stage_iov_{};  ///< The staging room, for a RecordStream receive
};

}  // namespace nvmf::fabric::tcp
