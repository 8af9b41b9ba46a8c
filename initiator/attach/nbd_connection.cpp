#include "initiator/attach/nbd_connection.hpp"

#include <arpa/inet.h>
#include <endian.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::initiator::nbd {

namespace {
std::uint32_t command_of(std::uint32_t type) { return type & 0xffff; }
}  // namespace

NbdConnection::NbdConnection(IoQueue& io, const Namespace& ns, int socket_fd, std::uint16_t slots,
                             std::uint32_t buffer_bytes)
    : io_(io), ns_(ns), fd_(socket_fd), buffer_bytes_(buffer_bytes), slots_(slots) {
  free_.reserve(slots);
  send_ring_.resize(slots);
  waiting_.reserve(slots);
  recv_op_.handler = &NbdConnection::on_recv;
  send_op_.handler = &NbdConnection::on_send;
}

NbdConnection::~NbdConnection() {
  if (memory_) munmap(memory_, memory_bytes_);
}

bool NbdConnection::start(std::string* error) {
  memory_bytes_ = slots_.size() * std::size_t(buffer_bytes_);
  void* m = mmap(nullptr, memory_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    *error = "allocating " + std::to_string(memory_bytes_) + " bytes of request buffers: " + std::strerror(errno);
    return false;
  }
  memory_ = m;
  std::string why;
  if (!io_.register_buffer(memory_, memory_bytes_, &why)) {
    *error = "registering the request buffers: " + why;
    return false;
  }
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].owner = this;
    slots_[i].buffer = static_cast<char*>(memory_) + i * buffer_bytes_;
    free_.push_back(&slots_[i]);
  }
  receive_next();
  return true;
}

void NbdConnection::receive_next() {
  if (closed_ || recv_posted_ || receiving_) return;
  // A request needs a slot: without one, stop reading (the kernel waits on the socket).
  if (free_.empty()) {
    waiting_for_slot_ = true;
    return;
  }
  post_recv(reinterpret_cast<char*>(&header_), sizeof header_);
}

void NbdConnection::post_recv(char* into, std::uint32_t len) {
  recv_into_ = into;
  recv_want_ = len;
  recv_got_ = 0;
  io_uring_prep_recv(io_.reactor().sqe(recv_op_), fd_, into, len, 0);
  recv_posted_ = true;
}

void NbdConnection::on_recv(fabric::IoOp& op, std::int32_t res, std::uint32_t) {
  auto& c = fabric::owner_of(&NbdConnection::recv_op_, op);
  c.recv_posted_ = false;
  if (c.closing_) return;
  if (res <= 0) {
    if (res < 0) NVMF_LOG(warn, "nbd: receive: %s", std::strerror(-res));
    c.closed_ = true;  // the kernel closed its end (disconnect)
    return;
  }
  c.recv_got_ += static_cast<std::uint32_t>(res);
  if (c.recv_got_ < c.recv_want_) {
    io_uring_prep_recv(c.io_.reactor().sqe(c.recv_op_), c.fd_, c.recv_into_ + c.recv_got_, c.recv_want_ - c.recv_got_,
                       0);
    c.recv_posted_ = true;
    return;
  }
  if (Slot* s = c.receiving_) {
    c.receiving_ = nullptr;
    c.dispatch(*s);
  } else {
    c.on_header();
  }
  c.receive_next();
}

void NbdConnection::on_header() {
  if (ntohl(header_.magic) != NBD_REQUEST_MAGIC) {
    NVMF_LOG(error, "nbd: bad request magic %08x: closing the connection", ntohl(header_.magic));
    closed_ = true;
    shutdown(fd_, SHUT_RDWR);
    return;
  }
  const std::uint32_t type = ntohl(header_.type);
  if (command_of(type) == NBD_CMD_DISC) {
    closed_ = true;
    return;
  }
  Slot& s = *free_.back();
  free_.pop_back();
  ++busy_;
  s.type = type;
  s.from = be64toh(header_.from);
  s.len = ntohl(header_.len);
  std::memcpy(s.handle, header_.handle, sizeof s.handle);
  if (command_of(type) == NBD_CMD_WRITE) {
    if (s.len == 0 || s.len > buffer_bytes_) {
      // The data cannot be held; nbd has no way to skip it but reading it, and the device's max_sectors_kb is
      // set to the buffer size, so this is a broken peer: end the connection.
      NVMF_LOG(error, "nbd: write of %u bytes over the %u-byte buffer: closing the connection", s.len, buffer_bytes_);
      closed_ = true;
      shutdown(fd_, SHUT_RDWR);
      return;
    }
    receiving_ = &s;
    post_recv(s.buffer, s.len);
    return;
  }
  dispatch(s);
}

void NbdConnection::dispatch(Slot& s) {
  const std::uint32_t bs = ns_.block_size;
  const std::uint32_t cmd = command_of(s.type);
  const bool ranged = cmd == NBD_CMD_READ || cmd == NBD_CMD_WRITE || cmd == NBD_CMD_TRIM;
  if (ranged && (s.from % bs || s.len % bs || s.len == 0)) return reply(s, EINVAL);
  const std::uint64_t slba = s.from / bs;
  const std::uint32_t nlb = s.len / bs;
  SubmitResult r = SubmitResult::invalid_argument;
  switch (cmd) {
    case NBD_CMD_READ:
      if (s.len > buffer_bytes_) return reply(s, EINVAL);
      r = io_.read(ns_, slba, nlb, s.buffer, &NbdConnection::on_io_done, &s);
      break;
    case NBD_CMD_WRITE:
      r = io_.write(ns_, slba, nlb, s.buffer, &NbdConnection::on_io_done, &s, (s.type & NBD_CMD_FLAG_FUA) != 0);
      break;
    case NBD_CMD_FLUSH:
      r = io_.flush(ns_, &NbdConnection::on_io_done, &s);
      break;
    case NBD_CMD_TRIM:
      s.range.cattr = 0;
      s.range.nlb = htole32(nlb);
      s.range.slba = htole64(slba);
      r = io_.deallocate(ns_, &s.range, 1, &NbdConnection::on_io_done, &s);
      break;
    default:
      return reply(s, EINVAL);
  }
  switch (r) {
    case SubmitResult::ok: return;
    case SubmitResult::queue_full: waiting_.push_back(&s); return;
    case SubmitResult::invalid_argument: return reply(s, EINVAL);
    case SubmitResult::disconnected: return reply(s, EIO);
  }
}

void NbdConnection::on_io_done(void* arg, nvme::Status status) {
  Slot& s = *static_cast<Slot*>(arg);
  NbdConnection& c = *s.owner;
  if (c.closing_) return;
  std::uint32_t error = 0;
  if (!status.ok())
    error = status.sct() == NVME_SCT_GENERIC && status.sc() == NVME_SC_CAP_EXCEEDED ? ENOSPC : EIO;
  c.reply(s, error);
}

void NbdConnection::reply(Slot& s, std::uint32_t error) {
  s.reply.magic = htonl(NBD_REPLY_MAGIC);
  s.reply.error = htonl(error);
  std::memcpy(s.reply.handle, s.handle, sizeof s.handle);
  s.send_data = command_of(s.type) == NBD_CMD_READ && error == 0;
  send_ring_[(send_head_ + send_count_) % send_ring_.size()] = &s;
  ++send_count_;
  send_next();
}

void NbdConnection::send_next() {
  if (send_posted_ || send_count_ == 0) return;
  Slot& s = *send_ring_[send_head_];
  send_iov_[0] = {&s.reply, sizeof s.reply};
  send_iov_[1] = {s.buffer, s.send_data ? s.len : 0};
  send_msg_ = {};
  send_msg_.msg_iov = send_iov_;
  send_msg_.msg_iovlen = s.send_data ? 2 : 1;
  send_left_ = sizeof s.reply + (s.send_data ? s.len : 0);
  io_uring_prep_sendmsg(io_.reactor().sqe(send_op_), fd_, &send_msg_, MSG_NOSIGNAL);
  send_posted_ = true;
}

void NbdConnection::on_send(fabric::IoOp& op, std::int32_t res, std::uint32_t) {
  auto& c = fabric::owner_of(&NbdConnection::send_op_, op);
  c.send_posted_ = false;
  if (c.closing_) return;
  if (res < 0) {
    NVMF_LOG(warn, "nbd: send: %s", std::strerror(-res));
    c.closed_ = true;
    c.busy_ = 0;  // nothing more can be replied: the connection is over
    return;
  }
  if (static_cast<std::uint64_t>(res) < c.send_left_) {
    // A short send: move past what went out and send the rest.
    c.send_left_ -= static_cast<std::uint64_t>(res);
    std::size_t done = static_cast<std::size_t>(res);
    while (c.send_msg_.msg_iovlen > 0 && done >= c.send_msg_.msg_iov[0].iov_len) {
      done -= c.send_msg_.msg_iov[0].iov_len;
      ++c.send_msg_.msg_iov;
      --c.send_msg_.msg_iovlen;
    }
    c.send_msg_.msg_iov[0].iov_base = static_cast<char*>(c.send_msg_.msg_iov[0].iov_base) + done;
    c.send_msg_.msg_iov[0].iov_len -= done;
    io_uring_prep_sendmsg(c.io_.reactor().sqe(c.send_op_), c.fd_, &c.send_msg_, MSG_NOSIGNAL);
    c.send_posted_ = true;
    return;
  }
  Slot* s = c.send_ring_[c.send_head_];
  c.send_head_ = (c.send_head_ + 1) % c.send_ring_.size();
  --c.send_count_;
  c.free_.push_back(s);
  --c.busy_;
  if (c.waiting_for_slot_) {
    c.waiting_for_slot_ = false;
    c.receive_next();
  }
  c.send_next();
}

void NbdConnection::close() {
  closing_ = true;
  shutdown(fd_, SHUT_RDWR);
}

void NbdConnection::poll(std::chrono::milliseconds max_wait) {
  io_.process_completions(waiting_.empty() ? max_wait : std::chrono::milliseconds(0));
  if (waiting_.empty()) return;
  std::size_t n = waiting_.size();
  for (std::size_t i = 0; i < n; ++i) {
    Slot* s = waiting_.front();
    waiting_.erase(waiting_.begin());
    dispatch(*s);  // may put it back at the end
  }
}

}  // namespace nvmf::initiator::nbd
