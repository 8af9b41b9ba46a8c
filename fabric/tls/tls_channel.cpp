#include "fabric/tls/tls_channel.hpp"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"
#include "fabric/tls/kernel_tls.hpp"

namespace nvmf::fabric::tls {

namespace {
// TLS record content types (RFC 8446 5.1).
constexpr std::uint8_t kChangeCipherSpec = 20, kHandshake = 22, kApplicationData = 23;
constexpr std::uint8_t kIcReqType = 0x00;  // NVMe/TCP ICReq PDU type: a plain host on a TLS port
}  // namespace

TlsChannel::TlsChannel(Reactor& reactor, int fd, std::string peer, SSL* ssl, Ready ready)
    : reactor_(reactor), fd_(fd), peer_(std::move(peer)), ssl_(ssl), ready_(std::move(ready)) {
  net_recv_op_.handler = &TlsChannel::on_net_recv;
  net_send_op_.handler = &TlsChannel::on_net_send;
  net_in_.reset(new std::uint8_t[kBuffer]);
  net_out_.reset(new std::uint8_t[kBuffer]);
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(rbio_, -1);  // empty means "want more", not end of stream
  SSL_set_bio(ssl_, rbio_, wbio_);
  attach_notes(ssl_, &notes_);
}

void TlsLink::close() {
  if (channel) channel->close();
}

TlsChannel::~TlsChannel() {
  if (link_) link_->channel = nullptr;
  if (timer_) reactor_.cancel_timer(timer_);
  SSL_free(ssl_);  // frees both BIOs (null once a RecordStream took the session)
  if (fd_ >= 0) ::close(fd_);
}

void accept_tls(Reactor& reactor, int fd, std::string peer, std::shared_ptr<const ServerContext> context,
                bool allow_plain, Ready ready) {
  SSL* ssl = context->new_ssl();
  if (!ssl) {
    ::close(fd);
    ready(-1, "TLS: SSL_new failed", "", nullptr);
    return;
  }
  auto* channel = new TlsChannel(reactor, fd, std::move(peer), ssl, std::move(ready));
  channel->server_ = context;
  channel->notes_.server = context.get();
  channel->allow_plain_ = allow_plain;
  channel->start(context->handshake_timeout(), allow_plain);
}

std::shared_ptr<TlsLink> connect_tls(Reactor& reactor, int fd, std::string peer,
                                     std::shared_ptr<const ClientContext> context, std::chrono::milliseconds timeout,
                                     Ready ready) {
  auto link = std::make_shared<TlsLink>();
  SSL* ssl = context->new_ssl();
  if (!ssl) {
    ::close(fd);
    ready(-1, "TLS: SSL_new failed", "", nullptr);
    return link;
  }
  auto* channel = new TlsChannel(reactor, fd, std::move(peer), ssl, std::move(ready));
  channel->client_ = context;
  channel->notes_.client = context.get();
  channel->link_ = link;
  link->channel = channel;
  channel->start(timeout, false);
  return link;
}

void TlsChannel::start(std::chrono::milliseconds timeout, bool peek_first) {
  timer_ = reactor_.add_timer(timeout, [this, timeout] {
    timer_ = 0;
    refuse("handshake not complete after " + std::to_string(timeout.count()) + " ms");
  });
  want_ = 5;
  have_ = 0;
  if (peek_first) {
    // A port that allows TLS without requiring it: the first byte tells a ClientHello from an ICReq.
    phase_ = Phase::peek;
    net_recv_busy_ = true;
    io_uring_prep_recv(reactor_.sqe(net_recv_op_), fd_, &peek_byte_, 1, MSG_PEEK);
    return;
  }
  phase_ = Phase::handshake;
  if (client_) return drive_handshake();  // ClientHello out, then read the server's records
  arm_net_recv();
}

void TlsChannel::arm_net_recv() {
  if (net_recv_busy_ || phase_ == Phase::closing) return;
  net_recv_busy_ = true;
  io_uring_prep_recv(reactor_.sqe(net_recv_op_), fd_, net_in_.get() + have_, want_ - have_, 0);
}

void TlsChannel::on_net_recv(IoOp& op, std::int32_t res, std::uint32_t) {
  auto& self = owner_of(&TlsChannel::net_recv_op_, op);
  self.net_recv_busy_ = false;
  switch (self.phase_) {
    case Phase::closing:
      return self.maybe_destroy();
    case Phase::finishing:  // no receive is armed while our last handshake bytes go out
      return;
    case Phase::peek:
      if (res <= 0) return self.refuse(res == 0 ? "closed before sending anything" : std::strerror(-res));
      if (self.peek_byte_ == kHandshake) {
        self.phase_ = Phase::handshake;
        return self.arm_net_recv();
      } else {
        // Plain NVMe/TCP on a port that allows TLS: the socket goes to the PDU code as it is.
        Ready ready = std::move(self.ready_);
        const int fd = self.fd_;
        self.fd_ = -1;
        delete &self;
        return ready(fd, "", "", nullptr);
      }
    case Phase::handshake:
      if (res <= 0)
        return self.refuse(res == 0 ? "peer closed the connection during the handshake"
                                    : std::string("recv: ") + std::strerror(-res));
      self.have_ += static_cast<std::size_t>(res);
      if (self.have_ < self.want_) return self.arm_net_recv();
      return self.handshake_record_done();
  }
}

void TlsChannel::handshake_record_done() {
  const std::uint8_t* h = net_in_.get();
  if (!in_body_) {
    const bool first = SSL_in_before(ssl_) && server_;
    if (first && h[0] != kHandshake)
      return refuse(h[0] == kIcReqType ? "plain NVMe/TCP (ICReq) on a port that requires TLS"
                                       : "not a TLS handshake record");
    if (h[0] < kChangeCipherSpec || h[0] > kApplicationData || h[1] != 3)
      return refuse("not a TLS record (content type " + std::to_string(h[0]) + ")");
    const std::size_t len = (std::size_t(h[3]) << 8) | h[4];
    if (len == 0 || len + 5 > kRecordMax) return refuse("TLS record length " + std::to_string(len) + " out of range");
    want_ = 5 + len;
    in_body_ = true;
    return arm_net_recv();
  }
  BIO_write(rbio_, h, static_cast<int>(want_));
  want_ = 5;
  have_ = 0;
  in_body_ = false;
  drive_handshake();
}

void TlsChannel::drive_handshake() {
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    // Our last handshake bytes go out before the socket changes hands (kernel TLS would encrypt them again).
    phase_ = Phase::finishing;
    return flush_out();
  }
  const int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ) {
    flush_out();
    return arm_net_recv();
  }
  std::string why = last_ssl_error();
  if (!notes_.why.empty()) why = notes_.why;  // our reason; OpenSSL's would only say no PSK was usable
  else if (server_ && !notes_.psk_selected && why.find("binder") == std::string::npos && !notes_.host.empty())
    why = "no usable PSK" + (why.empty() ? "" : " (" + why + ")");
  if (why.find("binder does not verify") != std::string::npos) why = "wrong PSK (binder does not verify)";
  if (why.empty()) why = "handshake failed";
  refuse(why);
}

bool TlsChannel::hand_over_to_kernel() {
  std::string why;
  KernelTls result = KernelTls::unavailable;
  if (kernel_tls_disabled())
    why = "NVMF_TLS_USERSPACE is set";
  else if (SSL_has_pending(ssl_) || BIO_ctrl_pending(rbio_) > 0)
    why = "data past the handshake already read";  // never happens when records are read one at a time
  else
    result = install_kernel_tls(fd_, ssl_, notes_.secrets, server_ != nullptr, why);
  notes_.secrets.clear();
  if (result == KernelTls::broken) {
    refuse("kernel TLS half set up (" + why + ")");
    return true;
  }
  const bool kernel = result == KernelTls::installed;
  // Once per process (which path this machine takes and why), then per connection at debug. At info on the
  // target (a service's log); at debug on a host, whose tools run one command per process.
  static std::atomic<bool> told_kernel{false}, told_user{false};
  if (!(kernel ? told_kernel : told_user).exchange(true)) {
    const char* where = kernel ? "the kernel (tls ULP)" : "user space";
    if (server_)
      NVMF_LOG(info, "tls: record layer in %s%s%s", where, kernel ? "" : ": ", why.c_str());
    else
      NVMF_LOG(debug, "tls: record layer in %s%s%s", where, kernel ? "" : ": ", why.c_str());
  }
  NVMF_LOG(debug, "tls: session with %s%s%s established (%s), record layer in %s%s%s", peer_.c_str(),
           notes_.host.empty() ? "" : " host ", notes_.host.c_str(), SSL_get_cipher_name(ssl_),
           kernel ? "the kernel" : "user space", kernel ? "" : ": ", why.c_str());
  if (!kernel) return false;
  Ready ready = std::move(ready_);
  ready_ = nullptr;
  const int fd = fd_;
  const std::string host = notes_.host;
  fd_ = -1;
  delete this;
  ready(fd, "", host, nullptr);
  return true;
}

void TlsChannel::go_running() {
  if (timer_) reactor_.cancel_timer(timer_);
  timer_ = 0;
  if (hand_over_to_kernel()) return;
  // The session moves to a RecordStream the PDU code drives; this channel's job is done.
  const std::size_t early = BIO_ctrl_pending(rbio_);  // none in practice: records were read one at a time
  const int n = early ? BIO_read(rbio_, net_in_.get(), static_cast<int>(std::min(early, kBuffer))) : 0;
  auto records = std::make_unique<RecordStream>(reactor_, fd_, ssl_, peer_);
  ssl_ = nullptr;
  if (n > 0) records->preload(net_in_.get(), static_cast<std::size_t>(n));
  Ready ready = std::move(ready_);
  ready_ = nullptr;
  const int fd = fd_;
  const std::string host = notes_.host;
  fd_ = -1;
  delete this;
  ready(fd, "", host, std::move(records));
}

void TlsChannel::flush_out() {
  if (net_send_busy_ || phase_ == Phase::closing) return;
  const int n = BIO_read(wbio_, net_out_.get(), static_cast<int>(kBuffer));
  if (n > 0) {
    out_len_ = static_cast<std::size_t>(n);
    out_sent_ = 0;
    net_send_busy_ = true;
    io_uring_prep_send(reactor_.sqe(net_send_op_), fd_, net_out_.get(), out_len_, MSG_NOSIGNAL);
    return;
  }
  out_len_ = 0;
  if (phase_ == Phase::finishing) return go_running();
}

void TlsChannel::on_net_send(IoOp& op, std::int32_t res, std::uint32_t) {
  auto& self = owner_of(&TlsChannel::net_send_op_, op);
  self.net_send_busy_ = false;
  if (self.phase_ == Phase::closing) return self.maybe_destroy();
  if (res <= 0) {
    return self.refuse(std::string("send: ") + std::strerror(-res));
  }
  self.out_sent_ += static_cast<std::size_t>(res);
  if (self.out_sent_ < self.out_len_) {
    self.net_send_busy_ = true;
    io_uring_prep_send(self.reactor_.sqe(self.net_send_op_), self.fd_, self.net_out_.get() + self.out_sent_,
                       self.out_len_ - self.out_sent_, MSG_NOSIGNAL);
    return;
  }
  self.flush_out();
}

void TlsChannel::refuse(const std::string& why) {
  if (phase_ == Phase::closing) return;
  NVMF_LOG(warn, "tls: %s %s%s%s%s: %s", server_ ? "refused connection from" : "handshake with", peer_.c_str(),
           notes_.host.empty() ? "" : " (host ", notes_.host.c_str(), notes_.host.empty() ? "" : ")", why.c_str());
  // Best effort: the alert OpenSSL produced tells the peer why (a few bytes; never blocks).
  if (!net_send_busy_ && fd_ >= 0) {
    const int n = BIO_read(wbio_, net_out_.get(), static_cast<int>(kBuffer));
    if (n > 0) (void)::send(fd_, net_out_.get(), static_cast<std::size_t>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  Ready ready = std::move(ready_);
  ready_ = nullptr;
  if (ready) ready(-1, why, notes_.host, nullptr);
  close();
}

void TlsChannel::close() {
  if (phase_ == Phase::closing) return;
  phase_ = Phase::closing;
  if (timer_) reactor_.cancel_timer(timer_);
  timer_ = 0;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
  if (net_recv_busy_) io_uring_prep_cancel(reactor_.sqe_ignored(), &net_recv_op_, 0);
  maybe_destroy();
}

void TlsChannel::maybe_destroy() {
  if (net_recv_busy_ || net_send_busy_) return;
  delete this;
}

}  // namespace nvmf::fabric::tls
