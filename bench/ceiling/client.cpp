#include "bench/ceiling/client.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace nvmf::bench {

namespace {
void check_shape(const MessageShape& s, const char* what) {
  auto ok = [](std::uint32_t n) { return n >= kMinMessageSize && n <= kMaxMessageSize; };
  if (!ok(s.request_size) || !ok(s.response_size))
    throw std::invalid_argument(std::string(what) + ": request " + std::to_string(s.request_size) + " and response " +
                                std::to_string(s.response_size) + " bytes must each be 16.." +
                                std::to_string(kMaxMessageSize));
}
}  // namespace

CeilingClient::CeilingClient(const ClientOptions& options)
    : options_(options),
      ring_(options.mode, options.task_run),
      receive_buffer_(options.receive_buffer),
      sender_(options.queue_depth + 1),  // every slot's request, plus the final stats query
      payload_(std::max(options.shape.request_size, options.other_shape.request_size)),
      issued_ns_(options.queue_depth),
      slot_shape_(options.queue_depth) {
  check_shape(options.shape, "shape");
  if (options.shape_percent < 100) check_shape(options.other_shape, "other shape");
  if (options.shape_percent > 100) throw std::invalid_argument("shape percentage above 100");
  if (options.queue_depth == 0 || options.queue_depth > 65536)
    throw std::invalid_argument("queue depth " + std::to_string(options.queue_depth) + " (want 1..65536)");
  if (!(options.seconds > 0)) throw std::invalid_argument("run time must be positive");
}

CeilingClient::~CeilingClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t CeilingClient::now_ns() const {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

ClientResult CeilingClient::run() {
  fd_ = connect_to(options_.server, 3000);
  result_.ring_setup = ring_.setup();
  cpu_at_start_ = CpuTime::of_this_thread();
  start_ns_ = now_ = now_ns();
  deadline_ns_ = start_ns_ + static_cast<std::uint64_t>(options_.seconds * 1e9);
  for (std::uint32_t slot = 0; slot < options_.queue_depth; ++slot) issue(slot);
  outstanding_ = options_.queue_depth;
  arm_receive();
  while (state_ != State::done) {
    flush();
    ring_.turn([this](std::uint64_t op, int res) { on_completion(op, res); });
  }
  return result_;
}

void CeilingClient::on_completion(std::uint64_t op, int res) {
  if (op == op_receive) return on_receive(res);
  sending_ = false;
  if (res < 0) throw std::system_error(-res, std::generic_category(), "send");
  sender_.complete(static_cast<std::size_t>(res));
}

void CeilingClient::arm_receive() {
  receiving_ = true;
  io_uring_prep_recv(ring_.sqe(op_receive), fd_, receive_buffer_.data(), receive_buffer_.size(), 0);
}

void CeilingClient::on_receive(int res) {
  receiving_ = false;
  if (res == 0) throw std::runtime_error("server closed the connection");
  if (res < 0) throw std::system_error(-res, std::generic_category(), "receive");
  // One clock read per receive: it stamps every response in it and every request reissued from it.
  now_ = now_ns();
  if (state_ == State::running && now_ >= deadline_ns_) state_ = State::draining;
  reader_.feed(receive_buffer_.data(), static_cast<std::size_t>(res),
               [this](const MessageHeader& h, const std::uint8_t* captured) { return on_message(h, captured); });
  if (state_ != State::done) arm_receive();
}

bool CeilingClient::on_message(const MessageHeader& header, const std::uint8_t* captured) {
  if (header.kind == MessageKind::stats_answer) {
    std::memcpy(&result_.server, captured, sizeof result_.server);
    state_ = State::done;
    return true;
  }
  if (header.kind != MessageKind::response || header.tag >= options_.queue_depth)
    throw std::runtime_error("unexpected message kind " + std::to_string(static_cast<int>(header.kind)) +
                             " tag " + std::to_string(header.tag));
  std::uint32_t slot = header.tag;
  const MessageShape& shape = slot_shape_[slot] == 0 ? options_.shape : options_.other_shape;
  if (header.length != shape.response_size)
    throw std::runtime_error("response of " + std::to_string(header.length) + " bytes, asked for " +
                             std::to_string(shape.response_size));
  result_.latency.record(now_ - issued_ns_[slot]);
  ++result_.completed;
  result_.payload_bytes += options_.payload_size ? options_.payload_size : shape.request_size + shape.response_size;
  if (state_ == State::running) {
    issue(slot);
  } else if (--outstanding_ == 0) {
    result_.elapsed_s = static_cast<double>(now_ - start_ns_) / 1e9;
    result_.client_cpu = CpuTime::of_this_thread() - cpu_at_start_;
    sender_.add({sizeof(MessageHeader), 0, 0, MessageKind::stats_query, 0}, nullptr);
    state_ = State::querying;
  }
  return true;
}

void CeilingClient::issue(std::uint32_t slot) {
  std::uint8_t which = 0;
  if (options_.shape_percent < 100) {
    rng_ ^= rng_ << 13;  // xorshift64: cheap and good enough to interleave two shapes
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    which = rng_ % 100 < options_.shape_percent ? 0 : 1;
  }
  const MessageShape& shape = which == 0 ? options_.shape : options_.other_shape;
  slot_shape_[slot] = which;
  issued_ns_[slot] = now_;
  sender_.add({shape.request_size, shape.response_size, slot, MessageKind::request, 0}, payload_.data());
}

void CeilingClient::flush() {
  if (!sending_ && sender_.has_work()) {
    sender_.prep(ring_.sqe(op_send), fd_);
    sending_ = true;
  }
}

}  // namespace nvmf::bench
