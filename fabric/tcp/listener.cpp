#include "fabric/tcp/listener.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "fabric/log.hpp"
#include "fabric/tcp/socket_address.hpp"
#include "fabric/tls/tls_channel.hpp"

namespace nvmf::fabric {

namespace {

using namespace std::chrono_literals;

/// The accepting half, living on reactor 0. It deletes itself once stopped and its accept has completed.
class Acceptor {
 public:
  Acceptor(ReactorGroup& group, int fd, std::string name, const tcp::ControllerQueueConfig& config,
           QueueHandlerFactory& factory, std::shared_ptr<std::atomic<bool>> finished, TlsPolicy tls)
      : tls_(tls),
        group_(group),
        reactor_(group.at(0)),
        fd_(fd),
        name_(std::move(name)),
        config_(config),
        factory_(factory),
        finished_(std::move(finished)) {
    op_.handler = &Acceptor::on_accept;
  }

  void arm() {
    if (stopping_ || in_flight_) return;
    in_flight_ = true;
    if (reactor_.features().multishot_accept) {
      io_uring_prep_multishot_accept(reactor_.sqe(op_), fd_, nullptr, nullptr, SOCK_CLOEXEC);
    } else {
      io_uring_prep_accept(reactor_.sqe(op_), fd_, nullptr, nullptr, SOCK_CLOEXEC);
    }
  }

  void stop() {
    if (stopping_) return;
    stopping_ = true;
    if (retry_timer_) reactor_.cancel_timer(retry_timer_);
    retry_timer_ = 0;
    if (!in_flight_) return finish();
    io_uring_prep_cancel(reactor_.sqe_ignored(), &op_, 0);
    ::shutdown(fd_, SHUT_RDWR);  // also ends a blocked accept on kernels without async cancel of it
  }

 private:
  static void on_accept(IoOp& op, std::int32_t res, std::uint32_t flags) {
    auto& self = owner_of(&Acceptor::op_, op);
    const bool more = flags & IORING_CQE_F_MORE;
    if (!more) self.in_flight_ = false;
    if (res >= 0) {
      if (self.stopping_)
        ::close(res);
      else
        self.hand_over(res);
    } else if (!self.stopping_ && res != -ECANCELED) {
      // EMFILE/ENFILE/ENOBUFS: back off instead of spinning on the error.
      NVMF_LOG(warn, "tcp: accept on %s failed: %s", self.name_.c_str(), std::strerror(-res));
      if (!more) {
        self.retry_timer_ = self.reactor_.add_timer(100ms, [&self] {
          self.retry_timer_ = 0;
          self.arm();
        });
      }
      return;
    }
    if (self.stopping_) {
      if (!self.in_flight_) self.finish();
      return;
    }
    if (!more) self.arm();
  }

  void hand_over(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // PDUs are latency-bound, not bulk streams
    if (const unsigned timeout = config_.limits.send_timeout_ms)
      setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
    std::string peer = tcp::peer_name(fd);
    Reactor& target = group_.next();
    auto config = config_;
    QueueHandlerFactory* factory = &factory_;
    Reactor* r = &target;
    if (tls_ == TlsPolicy::none) {
      target.post([r, fd, peer, config, factory] { tcp::TcpControllerQueue::start(*r, fd, peer, config, *factory); });
      return;
    }
    // TLS first (NVMe/TCP 3.6.1.1: the handshake precedes the ICReq); the PDU code gets the socket (and, in user
    // space, the record layer to go through).
    const bool allow_plain = tls_ == TlsPolicy::allowed;
    target.post([r, fd, peer, config, factory, allow_plain] {
      tls::accept_tls(*r, fd, peer, config.tls, allow_plain,
                      [r, peer, config, factory](int tcp_fd, const std::string&, const std::string& host,
                                                 std::unique_ptr<tls::RecordStream> records) {
                        if (tcp_fd < 0) return;
                        auto per_connection = config;
                        per_connection.secure_channel_host = host;
                        tcp::TcpControllerQueue::start(*r, tcp_fd, peer, per_connection, *factory, std::move(records));
                      });
    });
  }

  void finish() {
    ::close(fd_);
    NVMF_LOG(info, "tcp: stopped listening on %s", name_.c_str());
    auto finished = finished_;
    delete this;
    finished->store(true, std::memory_order_release);
  }

  TlsPolicy tls_;
  ReactorGroup& group_;
  Reactor& reactor_;
  int fd_;
  std::string name_;
  tcp::ControllerQueueConfig config_;
  QueueHandlerFactory& factory_;
  IoOp op_;
  bool in_flight_ = false;
  bool stopping_ = false;
  TimerWheel::Id retry_timer_ = 0;
  std::shared_ptr<std::atomic<bool>> finished_;
};

class TcpListener final : public Listener {
 public:
  TcpListener(Reactor& reactor, Acceptor* acceptor, ListenAddress address,
              std::shared_ptr<std::atomic<bool>> finished)
      : reactor_(reactor), acceptor_(acceptor), address_(std::move(address)), finished_(std::move(finished)) {}
  ~TcpListener() override { stop(); }
  const ListenAddress& address() const override { return address_; }
  void stop() override {
    if (!acceptor_) return;
    Acceptor* a = acceptor_;
    acceptor_ = nullptr;
    reactor_.post([a] { a->stop(); });
    // From another thread, wait (bounded) until the socket is closed: "stopped" then means the port is free and
    // nothing of the listener is left for a reactor that is about to stop.
    if (Reactor::current() == &reactor_) return;
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!finished_->load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
  }

 private:
  Reactor& reactor_;
  Acceptor* acceptor_;
  ListenAddress address_;
  std::shared_ptr<std::atomic<bool>> finished_;
};

[[noreturn]] void fail(int err, const ListenAddress& address, const char* what, int fd) {
  if (fd >= 0) ::close(fd);
  throw std::system_error(err, std::generic_category(), "listen on " + address.to_string() + ": " + what);
}

}  // namespace

std::unique_ptr<Listener> listen_tcp(ReactorGroup& group, const ListenAddress& address, const TransportLimits& limits,
                                     QueueHandlerFactory& factory) {
  tcp::ControllerQueueConfig config;
  config.limits = limits;
  return listen_tcp(group, address, config, factory);
}

std::unique_ptr<Listener> listen_tcp(ReactorGroup& group, const ListenAddress& address,
                                     const tcp::ControllerQueueConfig& config, QueueHandlerFactory& factory) {
  const std::uint32_t maxh2cdata = config.max_h2c_data ? config.max_h2c_data : config.limits.max_io_size;
  // The Linux host rejects an ICResp whose MAXH2CDATA is below 4096 or not a multiple of 4.
  if (maxh2cdata < 4096 || maxh2cdata % 4 != 0)
    throw std::invalid_argument("listen on " + address.to_string() + ": MAXH2CDATA " + std::to_string(maxh2cdata) +
                                " must be >= 4096 and a multiple of 4");
  for (std::size_t i = 0; i < group.size(); ++i) {
    if (group.at(i).buffers().buffer_size() < config.limits.max_io_size)
      throw std::invalid_argument("listen on " + address.to_string() + ": max I/O size " +
                                  std::to_string(config.limits.max_io_size) + " exceeds reactor buffer size " +
                                  std::to_string(group.at(i).buffers().buffer_size()));
  }
  if (address.tls != TlsPolicy::none && !config.tls)
    throw std::invalid_argument("listen on " + address.to_string() + ": TLS without a PSK lookup");
  tcp::SocketAddress sa;
  std::string error;
  if (!tcp::parse_socket_address(address.traddr, address.trsvcid, &sa, &error))
    throw std::system_error(EINVAL, std::generic_category(), "listen on " + address.to_string() + ": " + error);
  int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(errno, address, "socket", -1);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (sa.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd, sa.get(), sa.length) != 0) fail(errno, address, "bind", fd);
  if (::listen(fd, 128) != 0) fail(errno, address, "listen", fd);

  ListenAddress bound = address;
  bound.ipv6 = sa.family() == AF_INET6;
  bound.trsvcid = std::to_string(tcp::local_port(fd));
  auto finished = std::make_shared<std::atomic<bool>>(false);
  auto* acceptor = new Acceptor(group, fd, bound.to_string(), config, factory, finished, address.tls);
  NVMF_LOG(info, "tcp: listening on %s%s", bound.to_string().c_str(),
           address.tls == TlsPolicy::required  ? " (TLS required)"
           : address.tls == TlsPolicy::allowed ? " (TLS allowed)"
                                               : "");
  group.at(0).post([acceptor] { acceptor->arm(); });
  return std::make_unique<TcpListener>(group.at(0), acceptor, bound, finished);
}

}  // namespace nvmf::fabric
