#include "fabric/tls/record_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "fabric/tls/tls_context.hpp"

namespace nvmf::fabric::tls {

// The BIO is a window on this stream's buffers: reads take ciphertext from in_, writes append to out_. Empty
// input is "retry" (OpenSSL keeps a partial record and asks again once more has arrived).
int RecordStream::bio_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
  auto* self = static_cast<RecordStream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->out_end_ + len > kOutSize) {  // never with send() batches bounded by kSendMax; alerts are tiny
    BIO_set_retry_write(bio);
    return 0;
  }
  std::memcpy(self->out_.get() + self->out_end_, data, len);
  self->out_end_ += len;
  *written = len;
  return 1;
}

int RecordStream::bio_read(BIO* bio, char* data, std::size_t len, std::size_t* read) {
  auto* self = static_cast<RecordStream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  const std::size_t n = std::min(len, self->in_end_ - self->in_pos_);
  if (n == 0) {
    BIO_set_retry_read(bio);
    return 0;
  }
  std::memcpy(data, self->in_.get() + self->in_pos_, n);
  self->in_pos_ += n;
  *read = n;
  return 1;
}

long RecordStream::bio_ctrl(BIO* bio, int cmd, long, void*) {
  auto* self = static_cast<RecordStream*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return self ? static_cast<long>(self->in_end_ - self->in_pos_) : 0;
    case BIO_CTRL_WPENDING:
      return self ? static_cast<long>(self->out_end_ - self->out_pos_) : 0;
    default:
      return 0;
  }
}

BIO_METHOD* RecordStream::bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "nvmf TLS record stream");
    BIO_meth_set_write_ex(m, &RecordStream::bio_write);
    BIO_meth_set_read_ex(m, &RecordStream::bio_read);
    BIO_meth_set_ctrl(m, &RecordStream::bio_ctrl);
    return m;
  }();
  return method;
}

RecordStream::RecordStream(Reactor& reactor, int fd, SSL* ssl, std::string peer)
    : reactor_(reactor),
      fd_(fd),
      ssl_(ssl),
      peer_(std::move(peer)),
      in_(new std::uint8_t[kInSize]),
      out_(new std::uint8_t[kOutSize]),
      gather_(new std::uint8_t[kRecordPlain]) {
  net_recv_op_.handler = &RecordStream::on_net_recv;
  net_send_op_.handler = &RecordStream::on_net_send;
  BIO* bio = BIO_new(bio_method());
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);  // takes our one reference (it adds the second itself); frees the handshake's BIOs
}

RecordStream::~RecordStream() { SSL_free(ssl_); }

void RecordStream::preload(const std::uint8_t* data, std::size_t len) {
  len = std::min(len, kInSize - in_end_);
  std::memcpy(in_.get() + in_end_, data, len);
  in_end_ += len;
}

// ---- receive ----

void RecordStream::recv(const iovec* iov, unsigned iovcnt, IoOp& op) {
  recv_op_ = &op;
  recv_iov_ = iov;
  recv_iovcnt_ = iovcnt;
  read_plain();
}

void RecordStream::read_plain() {
  if (broken_) return complete_recv(-EBADMSG);
  if (closed_) return complete_recv(0);
  std::size_t got = 0;
  int err = SSL_ERROR_NONE;
  ERR_clear_error();  // SSL_get_error reads the thread's queue: an old entry from elsewhere would look like ours
  for (unsigned i = 0; i < recv_iovcnt_ && err == SSL_ERROR_NONE; ++i) {
    auto* base = static_cast<std::uint8_t*>(recv_iov_[i].iov_base);
    std::size_t filled = 0;
    while (filled < recv_iov_[i].iov_len) {
      std::size_t n = 0;
      const int r = SSL_read_ex(ssl_, base + filled, recv_iov_[i].iov_len - filled, &n);
      if (r <= 0) {
        err = SSL_get_error(ssl_, r);
        break;
      }
      filled += n;
    }
    got += filled;
  }
  if (in_pos_ == in_end_) in_pos_ = in_end_ = 0;  // all ciphertext is with OpenSSL: receive at the front again
  switch (err) {
    case SSL_ERROR_NONE:
    case SSL_ERROR_WANT_READ:
      break;
    case SSL_ERROR_ZERO_RETURN:  // close_notify
      closed_ = true;
      break;
    default:
      record_failed("bad record");
      break;
  }
  flush_control();  // an alert or a KeyUpdate answer OpenSSL wrote while reading
  if (got > 0) return complete_recv(static_cast<std::int32_t>(got));
  if (broken_) return complete_recv(-EBADMSG);
  if (closed_) return complete_recv(0);
  // Nothing decrypted yet: more ciphertext, unless TCP has ended (mid-record or not, that is the end here).
  if (net_eof_) return complete_recv(net_error_ ? -net_error_ : 0);
  arm_net_recv();
}

void RecordStream::arm_net_recv() {
  if (net_recv_busy_) return;
  net_recv_busy_ = true;
  io_uring_prep_recv(reactor_.sqe(net_recv_op_), fd_, in_.get() + in_end_, kInSize - in_end_, 0);
}

void RecordStream::on_net_recv(IoOp& op, std::int32_t res, std::uint32_t) {
  auto& self = owner_of(&RecordStream::net_recv_op_, op);
  self.net_recv_busy_ = false;
  if (res == -EINTR || res == -EAGAIN) return self.arm_net_recv();
  if (res > 0) {
    self.in_end_ += static_cast<std::size_t>(res);
  } else {
    self.net_eof_ = true;
    self.net_error_ = -res;
  }
  self.read_plain();
}

void RecordStream::complete_recv(std::int32_t res) {
  recv_res_ = res;
  reactor_.defer([this] {
    IoOp* op = recv_op_;
    recv_op_ = nullptr;
    op->handler(*op, recv_res_, 0);  // may destroy this stream: nothing after
  });
}

void RecordStream::record_failed(const char* what) {
  if (!broken_)
    NVMF_LOG(warn, "tls: connection %s closed: %s (%s)", peer_.c_str(), what, last_ssl_error().c_str());
  ERR_clear_error();
  broken_ = true;
}

// ---- send ----

void RecordStream::send(const iovec* iov, unsigned iovcnt, IoOp& op) {
  send_op_ = &op;
  if (broken_) return complete_send(-EPIPE);
  ERR_clear_error();
  // Gather into one record's worth at a time; a record ends where the batch ends or at 16 KiB.
  std::size_t taken = 0, fill = 0;
  auto seal = [&]() -> bool {
    std::size_t written = 0;
    if (fill == 0) return true;
    if (SSL_write_ex(ssl_, gather_.get(), fill, &written) != 1 || written != fill) {
      record_failed("encrypting failed");
      return false;
    }
    taken += fill;
    fill = 0;
    return true;
  };
  for (unsigned i = 0; i < iovcnt && taken + fill < kSendMax; ++i) {
    const auto* base = static_cast<const std::uint8_t*>(iov[i].iov_base);
    std::size_t left = iov[i].iov_len;
    while (left > 0 && taken + fill < kSendMax) {
      const std::size_t n = std::min({left, kRecordPlain - fill, kSendMax - taken - fill});
      std::memcpy(gather_.get() + fill, base, n);
      fill += n;
      base += n;
      left -= n;
      if (fill == kRecordPlain && !seal()) return complete_send(-EPIPE);
    }
  }
  if (!seal()) return complete_send(-EPIPE);
  send_res_ = static_cast<std::int32_t>(taken);
  if (out_pos_ == out_end_) return complete_send(send_res_);  // an empty scatter list
  start_net_send();
}

void RecordStream::start_net_send() {
  net_send_busy_ = true;
  io_uring_prep_send(reactor_.sqe(net_send_op_), fd_, out_.get() + out_pos_, out_end_ - out_pos_, MSG_NOSIGNAL);
}

void RecordStream::on_net_send(IoOp& op, std::int32_t res, std::uint32_t) {
  auto& self = owner_of(&RecordStream::net_send_op_, op);
  self.net_send_busy_ = false;
  if (res == -EINTR || res == -EAGAIN) return self.start_net_send();
  if (res <= 0) return self.complete_send(res == 0 ? -EPIPE : res);
  self.out_pos_ += static_cast<std::size_t>(res);
  if (self.out_pos_ < self.out_end_) return self.start_net_send();  // short send, or alerts appended meanwhile
  self.out_pos_ = self.out_end_ = 0;
  self.complete_send(self.send_res_);
}

void RecordStream::complete_send(std::int32_t res) {
  send_res_ = res;
  reactor_.defer([this] {
    IoOp* op = send_op_;
    send_op_ = nullptr;
    op->handler(*op, send_res_, 0);  // may destroy this stream: nothing after
  });
}

// Bytes OpenSSL wrote on its own while reading (alerts, KeyUpdate): best effort now when no send is in flight
// (a few bytes, never blocks); otherwise the send in flight takes them along.
void RecordStream::flush_control() {
  if (net_send_busy_ || send_op_ || out_pos_ == out_end_) return;
  const ssize_t n = ::send(fd_, out_.get() + out_pos_, out_end_ - out_pos_, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n > 0) out_pos_ += static_cast<std::size_t>(n);
  if (out_pos_ == out_end_) out_pos_ = out_end_ = 0;
}

}  // namespace nvmf::fabric::tls
