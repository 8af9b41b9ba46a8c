#include "bench/ceiling/server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace nvmf::bench {

CeilingServer::CeilingServer(const ServerOptions& options)
    : options_(options),
      ring_(options.mode, options.task_run),
      receive_buffer_(options.receive_buffer),
      sender_(options.max_batch),
      payload_(kMaxMessageSize) {
  if (options.payload_memory) memory_ = std::make_unique<PayloadMemory>(options.payload_memory);
  listen_fd_ = listen_on(options.listen);
}

CeilingServer::~CeilingServer() {
  // The ring's pending accept and receive hold references to the sockets until the kernel tears the ring down,
  // after the process has gone; shutdown() releases the port now, so the next server can bind it at once.
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
  }
  if (listen_fd_ >= 0) {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
  }
}

std::uint16_t CeilingServer::port() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return 0;
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
  return ntohs(ss.ss_family == AF_INET6 ? v6->sin6_port : v4->sin_port);
}

void CeilingServer::run(const volatile std::sig_atomic_t& stop) {
  arm_accept();
  while (!stop) {
    flush();
    ring_.turn([this](std::uint64_t op, int res) { on_completion(op, res); });
  }
}

void CeilingServer::on_completion(std::uint64_t op, int res) {
  switch (op) {
    case op_accept: on_accept(res); break;
    case op_receive: on_receive(res); break;
    case op_send: on_send(res); break;
    default: break;
  }
}

void CeilingServer::arm_accept() {
  io_uring_prep_accept(ring_.sqe(op_accept), listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
}

void CeilingServer::arm_receive() {
  received_ = consumed_ = 0;
  receiving_ = true;
  io_uring_prep_recv(ring_.sqe(op_receive), fd_, receive_buffer_.data(), receive_buffer_.size(), 0);
}

void CeilingServer::on_accept(int res) {
  if (res < 0) {
    std::fprintf(stderr, "nvmf-ceiling server: accept: %s\n", std::strerror(-res));
    arm_accept();
    return;
  }
  fd_ = res;
  set_nodelay(fd_);
  state_ = State::serving;
  reader_ = MessageReader{};
  reader_.copy_request_payloads_to(memory_.get());
  requests_ = 0;
  cpu_at_accept_ = CpuTime::of_this_thread();
  arm_receive();
}

void CeilingServer::on_receive(int res) {
  receiving_ = false;
  if (state_ != State::serving) return finish_close_if_idle();
  if (res <= 0) return begin_close(res == 0 ? "peer closed" : "receive", -res);
  received_ = static_cast<std::size_t>(res);
  consume_received();
}

void CeilingServer::on_send(int res) {
  sending_ = false;
  if (state_ != State::serving) return finish_close_if_idle();
  if (res < 0) return begin_close("send", -res);
  sender_.complete(static_cast<std::size_t>(res));
  // A full batch paused the reader; the batch behind this send now has room.
  if (!receiving_) consume_received();
}

void CeilingServer::consume_received() {
  try {
    consumed_ += reader_.feed(receive_buffer_.data() + consumed_, received_ - consumed_,
                              [this](const MessageHeader& h, const std::uint8_t*) { return on_message(h); });
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "nvmf-ceiling server: %s\n", e.what());
    return begin_close("protocol error", 0);
  }
  if (state_ == State::serving && consumed_ == received_) arm_receive();
}

bool CeilingServer::on_message(const MessageHeader& header) {
  switch (header.kind) {
    case MessageKind::request: {
      if (header.response_length < kMinMessageSize || header.response_length > kMaxMessageSize)
        throw std::runtime_error("request asks for a response of " + std::to_string(header.response_length) +
                                 " bytes (want 16.." + std::to_string(kMaxMessageSize) + ")");
      const std::size_t payload = header.response_length - sizeof(MessageHeader);
      const std::uint8_t* source = memory_ && payload ? memory_->random_block(payload) : payload_.data();
      sender_.add({header.response_length, 0, header.tag, MessageKind::response, 0}, source);
      ++requests_;
      break;
    }
    case MessageKind::stats_query: {
      CpuTime used = CpuTime::of_this_thread() - cpu_at_accept_;
      stats_answer_ = {requests_, used.user_us, used.system_us};
      sender_.add({sizeof(MessageHeader) + sizeof stats_answer_, 0, header.tag, MessageKind::stats_answer, 0},
                  &stats_answer_);
      break;
    }
    default:
      throw std::runtime_error("unexpected message kind " + std::to_string(static_cast<int>(header.kind)));
  }
  return !sender_.full();
}

void CeilingServer::flush() {
  if (state_ == State::serving && !sending_ && sender_.has_work()) {
    sender_.prep(ring_.sqe(op_send), fd_);
    sending_ = true;
  }
}

void CeilingServer::begin_close(const char* why, int err) {
  if (err && err != ECONNRESET && err != EPIPE)
    std::fprintf(stderr, "nvmf-ceiling server: closing connection: %s: %s\n", why, std::strerror(err));
  state_ = State::closing;
  // Completes whatever is still in flight on the socket, so the close below cannot race the kernel.
  ::shutdown(fd_, SHUT_RDWR);
  finish_close_if_idle();
}

void CeilingServer::finish_close_if_idle() {
  if (state_ != State::closing || receiving_ || sending_) return;
  ::close(fd_);
  fd_ = -1;
  sender_.reset();
  state_ = State::accepting;
  arm_accept();
}

}  // namespace nvmf::bench
