// An I/O queue whose connection is slower than KATO must not cost the association: while the admin thread waits
// for the queue's ICResp on the queue's own reactor (as perf workers and C API qpairs connect), the admin
// queue's Keep Alive keeps flowing (initiator/admin_turns.hpp). A loopback proxy in front of the in-process
// target holds back what the target sends on every connection after the first (the admin queue's) for longer
// than KATO.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "initiator/controller.hpp"
#include "initiator/io_queue.hpp"
#include "tests/functional/target_fixture.hpp"

using namespace nvmf;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:slow-io-connect";

/// 127.0.0.1 TCP proxy to `upstream_port`; on connections after the first, target-to-host bytes wait `delay`.
class DelayingProxy {
 public:
  DelayingProxy(std::uint16_t upstream_port, std::chrono::milliseconds delay)
      : upstream_port_(upstream_port), delay_(delay) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa = loopback(0);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 8) != 0) return;
    socklen_t len = sizeof sa;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~DelayingProxy() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& p : pairs_) close_pair(p);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  struct Pair {
    int host = -1;
    int target = -1;
    Clock::time_point release{};  ///< target-to-host bytes flow from then on
  };

  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
  }
  static void close_pair(Pair& p) {
    if (p.host >= 0) ::close(p.host);
    if (p.target >= 0) ::close(p.target);
    p.host = p.target = -1;
  }
  // Copy what is readable on `from` to `to`; false when the connection ended.
  static bool pump(int from, int to) {
    char buf[65536];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(to, buf + done, static_cast<std::size_t>(n - done));
      if (w <= 0) return false;
      done += w;
    }
    return true;
  }

  void accept_one() {
    Pair p;
    p.host = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (p.host < 0) return;
    p.target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa = loopback(upstream_port_);
    if (::connect(p.target, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return close_pair(p);
    int one = 1;
    ::setsockopt(p.host, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(p.target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    p.release = Clock::now() + (accepted_++ == 0 ? 0ms : delay_);
    pairs_.push_back(p);
  }

  void run() {
    while (!stop_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      const auto now = Clock::now();
      for (const auto& p : pairs_) {
        fds.push_back({p.host, POLLIN, 0});
        fds.push_back({p.target, static_cast<short>(now >= p.release ? POLLIN : 0), 0});
      }
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        Pair& p = pairs_[i];
        const pollfd& h = fds[1 + 2 * i];
        const pollfd& t = fds[2 + 2 * i];
        bool ok = true;
        if (h.revents) ok = pump(p.host, p.target);
        if (ok && t.revents) ok = pump(p.target, p.host);
        if (!ok) close_pair(p);
      }
      std::erase_if(pairs_, [](const Pair& p) { return p.host < 0; });
      if (fds[0].revents & POLLIN) accept_one();
    }
  }

  const std::uint16_t upstream_port_;
  const std::chrono::milliseconds delay_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  unsigned accepted_ = 0;
  std::vector<Pair> pairs_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(SlowIoQueueConnect, KeepAliveFlowsWhileAnIoQueueConnectsOnAnotherReactor) {
  constexpr std::uint32_t kKatoMs = 1000;
  constexpr auto kDelay = 2500ms;  // well over KATO: without keep-alives the target ends the association
  test::EmbeddedTarget target;
  test::TargetSpec spec;
  test::SubsystemSpec s;
  s.nqn = kNqn;
  s.namespaces = {test::NamespaceSpec{4ull << 20, 512}};
  spec.subsystems = {s};
  std::string error;
  ASSERT_TRUE(target.start(spec, &error)) << error;
  DelayingProxy proxy(static_cast<std::uint16_t>(std::stoi(target.endpoint().trsvcid)), kDelay);
  ASSERT_NE(proxy.port(), 0);

  auto options = target.options(kNqn);
  options.trsvcid = std::to_string(proxy.port());
  options.keep_alive_timeout_ms = kKatoMs;
  initiator::Error e;
  auto ctrl = initiator::Controller::connect(options, &e);
  ASSERT_NE(ctrl, nullptr) << e.to_string();

  // The queue connects on its own reactor from the admin thread, as `nvmf perf` connects its workers' queues.
  fabric::Reactor io_reactor(1);
  const std::uint64_t keep_alives_before = ctrl->keep_alive().sent();
  const auto started = Clock::now();
  auto queue = ctrl->create_io_queue(io_reactor, &e);
  const auto took = Clock::now() - started;
  ASSERT_NE(queue, nullptr) << e.to_string();
  EXPECT_GE(took, kDelay) << "the proxy did not hold the ICResp back: the test proves nothing";
  // A Keep Alive every KATO/2 throughout.
  EXPECT_GE(ctrl->keep_alive().sent() - keep_alives_before, 3u);

  ctrl->poll(0ms);
  EXPECT_TRUE(ctrl->alive());
  EXPECT_EQ(ctrl->generation(), 1u) << "the association was lost and made again";
  ASSERT_FALSE(ctrl->namespaces().empty());
  std::vector<std::uint8_t> block(512, 0x3C), back(512);
  EXPECT_TRUE(queue->write_sync(ctrl->namespaces()[0], 0, 1, block.data()).ok());
  EXPECT_TRUE(queue->read_sync(ctrl->namespaces()[0], 0, 1, back.data()).ok());
  EXPECT_EQ(back, block);
  queue.reset();
}

}  // namespace
