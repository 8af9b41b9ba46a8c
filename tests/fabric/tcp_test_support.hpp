// Test support for the NVMe/TCP tests: a fake QueueHandler that checks written data and serves reads with a known
// pattern, a listener on a one-reactor group, and a raw blocking client that writes PDUs and reads them back.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fabric/reactor.hpp"
#include "fabric/tcp/codec.hpp"
#include "fabric/tcp/listener.hpp"
#include "fabric/transport.hpp"
#include "nvme/crc32c.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::fabric::tcp::testing {

using namespace std::chrono_literals;

inline std::uint8_t pattern_byte(std::uint32_t seed, std::size_t i) {
  return static_cast<std::uint8_t>(i * 131 + seed * 7 + (i >> 8));
}
inline std::vector<std::uint8_t> pattern(std::uint32_t seed, std::size_t len) {
  std::vector<std::uint8_t> v(len);
  for (std::size_t i = 0; i < len; ++i) v[i] = pattern_byte(seed, i);
  return v;
}

// Command conventions understood by EchoHandler (cdw13 bits).
inline constexpr std::uint32_t kHold = 1;       ///< keep the request until the queue closes
inline constexpr std::uint32_t kCloseQueue = 2;  ///< call queue.close() after completing
inline constexpr std::uint32_t kSetDw0 = 4;     ///< complete with dw0 = 0x1234
/// Withdraw (ControllerQueue::cancel) the command with CID cdw14 that waits for its data: it completes with
/// Command Abort Requested, and this command with dw0 = 0 (withdrawn) or 1 (the transport refused).
inline constexpr std::uint32_t kCancel = 8;
inline const nvme::Status kCompareFailed = nvme::Status::media(0x85);

struct HandlerStats {
  std::atomic<int> handlers{0};
  std::atomic<int> destroyed{0};
  std::atomic<int> closed{0};
  std::atomic<int> commands{0};
  std::atomic<int> writes_verified{0};
  std::atomic<int> fetch_errors{0};
  std::atomic<int> borrowed{0};  ///< Commands whose in-capsule data was lent from the receive buffer
};

/// Writes (opcode 01h) are checked against pattern(cdw10); reads (02h) are served with pattern(cdw10);
/// Connect sets the queue parameters from the SQE; other commands without data succeed.
class EchoHandler : public QueueHandler {
 public:
  EchoHandler(ControllerQueue& queue, HandlerStats& stats) : queue_(queue), stats_(stats) { ++stats_.handlers; }
  ~EchoHandler() override { ++stats_.destroyed; }

  void on_command(ControllerRequest& req) override {
    ++stats_.commands;
    if (req.data_borrowed) ++stats_.borrowed;
    if (req.sqe.cdw13 & kHold) {
      queue_.keep_data(req);  // held past on_command: borrowed in-capsule data must be copied first
      held_.push_back(&req);
      return;
    }
    if (req.sqe.cdw13 & kCancel) return cancel(req);
    if (req.sqe.opcode == nvme::kFabricsOpcode && req.sqe.bytes()[4] == nvme_fabrics_type_connect) {
      auto c = nvme::fabrics_view<nvme::ConnectCommand>(req.sqe);
      queue_.set_params({c.qid, static_cast<std::uint16_t>(c.sqsize + 1),
                         (c.cattr & nvme::kConnectCattrDisableSqFlowControl) != 0});
      return finish(req);
    }
    if (req.direction == DataDirection::host_to_controller && !req.data_ready) {
      fetching_.push_back(&req);
      return queue_.fetch_data(req);
    }
    process(req);
  }
  void on_data_fetched(ControllerRequest& req) override {
    std::erase(fetching_, &req);
    if (!req.status().ok()) {
      ++stats_.fetch_errors;
      return queue_.complete(req);
    }
    process(req);
  }
  void on_queue_closed() override {
    ++stats_.closed;
    auto held = std::move(held_);
    for (auto* r : held) {
      if (r->sqe.opcode == 0x01 && r->data && matches_pattern(*r)) ++stats_.writes_verified;
      queue_.complete(*r);  // completed after close: just recycled
    }
  }

 private:
  static bool matches_pattern(const ControllerRequest& req) {
    for (std::uint32_t i = 0; i < req.data_length; ++i)
      if (static_cast<std::uint8_t>(req.data[i]) != pattern_byte(req.sqe.cdw10, i)) return false;
    return true;
  }
  void process(ControllerRequest& req) {
    if (req.sqe.opcode == 0x01) {
      if (!matches_pattern(req)) {
        req.set_status(kCompareFailed);
        return finish(req);
      }
      ++stats_.writes_verified;
    } else if (req.sqe.opcode == 0x02) {
      for (std::uint32_t i = 0; i < req.data_length; ++i) req.data[i] = std::byte{pattern_byte(req.sqe.cdw10, i)};
    }
    finish(req);
  }
  void cancel(ControllerRequest& req) {
    auto it = std::find_if(fetching_.begin(), fetching_.end(),
                           [&](ControllerRequest* r) { return r->sqe.cid == req.sqe.cdw14; });
    const bool withdrawn = it != fetching_.end() && queue_.cancel(**it);
    if (withdrawn) {
      ControllerRequest* victim = *it;
      fetching_.erase(it);
      victim->set_status(nvme::Status::generic(NVME_SC_ABORT_REQ));
      queue_.complete(*victim);
    }
    req.cqe.dw0 = withdrawn ? 0 : 1;
    finish(req);
  }
  void finish(ControllerRequest& req) {
    if (req.sqe.cdw13 & kSetDw0) req.cqe.dw0 = 0x1234;
    bool close_after = req.sqe.cdw13 & kCloseQueue;
    queue_.complete(req);
    if (close_after) queue_.close();
  }

  ControllerQueue& queue_;
  HandlerStats& stats_;
  std::vector<ControllerRequest*> held_;
  std::vector<ControllerRequest*> fetching_;  ///< Given to fetch_data, data not here yet
};

class EchoFactory : public QueueHandlerFactory {
 public:
  explicit EchoFactory(HandlerStats& stats) : stats_(stats) {}
  std::unique_ptr<QueueHandler> make_handler(ControllerQueue& queue) override {
    return std::make_unique<EchoHandler>(queue, stats_);
  }

 private:
  HandlerStats& stats_;
};

template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

/// A listener on 127.0.0.1 (ephemeral port) served by one reactor thread.
class TestServer {
 public:
  explicit TestServer(ControllerQueueConfig config = default_config(), std::size_t buffer_size = 128 * 1024)
      : group_({-1}, options(buffer_size)), factory_(stats) {
    group_.start();
    listener_ = listen_tcp(group_, {TransportType::tcp, false, "127.0.0.1", "0"}, config, factory_);
  }
  ~TestServer() {
    listener_.reset();
    // Every connection must be gone (closed, handler notified, queue deleted) before the reactor stops.
    EXPECT_TRUE(wait_until([&] { return stats.destroyed.load() == stats.handlers.load(); }));
    group_.stop();
  }
  static ControllerQueueConfig default_config() {
    ControllerQueueConfig c;
    c.limits.max_io_size = 128 * 1024;
    c.limits.in_capsule_data_size = 8192;
    c.limits.max_queue_depth = 32;
    c.connect_timeout = std::chrono::seconds(120);  // most tests send commands without a Connect
    return c;
  }
  std::string port() const { return listener_->address().trsvcid; }
  Listener& listener() { return *listener_; }
  HandlerStats stats;

 private:
  static ReactorOptions options(std::size_t buffer_size) {
    ReactorOptions o;
    o.buffer_size = buffer_size;
    return o;
  }
  ReactorGroup group_;
  EchoFactory factory_;
  std::unique_ptr<Listener> listener_;
};

using Bytes = std::vector<std::uint8_t>;

/// Blocking client speaking raw PDUs.
class RawClient {
 public:
  explicit RawClient(const std::string& port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(port)));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  void close() {
    ::close(fd_);
    fd_ = -1;
  }
  void send(const void* p, std::size_t n) {
    auto* b = static_cast<const std::uint8_t*>(p);
    while (n > 0) {
      ssize_t w = ::send(fd_, b, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      ASSERT_GT(w, 0) << std::strerror(errno);
      b += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void send(const Bytes& b) { send(b.data(), b.size()); }
  /// One blocking recv of up to n bytes, retried on EINTR: a test thread that owns a reactor is interrupted
  /// when io_uring queues task work for it, and with SO_RCVTIMEO set the kernel does not restart the call.
  ssize_t recv_some(void* p, std::size_t n) {
    ssize_t r;
    do r = ::recv(fd_, p, n, 0);
    while (r < 0 && errno == EINTR);
    return r;
  }
  /// Exactly n bytes, or fewer if the connection ended.
  Bytes recv_exact(std::size_t n) {
    Bytes out(n);
    std::size_t got = 0;
    while (got < n) {
      ssize_t r = recv_some(out.data() + got, n - got);
      if (r < 0) ADD_FAILURE() << "recv: " << std::strerror(errno);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }
  /// One whole PDU (empty when the connection ended first).
  Bytes recv_pdu() {
    Bytes ch = recv_exact(8);
    if (ch.size() < 8) return {};
    std::uint32_t plen = get_le32(ch.data() + 4);
    Bytes rest = recv_exact(plen - 8);
    if (rest.size() < plen - 8) return {};
    ch.insert(ch.end(), rest.begin(), rest.end());
    return ch;
  }
  /// True when the peer closed (EOF or reset) with nothing more to read.
  bool peer_closed() {
    std::uint8_t b;
    const ssize_t r = recv_some(&b, 1);
    return r == 0 || (r < 0 && errno == ECONNRESET);
  }

  /// ICReq/ICResp exchange; returns the ICResp.
  pdu::IcResp handshake(std::uint8_t dgst = 0, std::uint32_t maxr2t = 0) {
    auto req = build_ic_req(0, dgst, maxr2t);
    send(&req, sizeof req);
    Bytes r = recv_pdu();
    pdu::IcResp resp{};
    EXPECT_EQ(r.size(), sizeof resp);
    if (r.size() == sizeof resp) std::memcpy(&resp, r.data(), sizeof resp);
    digests = Digests::from_bits(dgst);
    return resp;
  }

  /// CapsuleCmd with optional in-capsule data (SGL Data Block/Offset) or a transport SGL of `sgl_length`.
  void send_command(nvme::Sqe sqe, const Bytes& in_capsule, std::uint32_t sgl_length = 0) {
    sqe.flags = nvme::kPsdtSgl;
    sqe.dptr = {};
    if (!in_capsule.empty()) {
      sqe.dptr.length = static_cast<std::uint32_t>(in_capsule.size());
      sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::offset);
    } else {
      sqe.dptr.length = sgl_length;
      sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::transport_data_block,
                                                 nvme::SglSubtype::transport_specific);
    }
    send_raw_command(sqe, in_capsule);
  }
  void send_raw_command(const nvme::Sqe& sqe, const Bytes& data) {
    std::uint8_t head[kMaxDigestedHeader];
    auto l = build_capsule_cmd(head, sqe, digests, static_cast<std::uint32_t>(data.size()), 4);
    send(head, l.header_len);
    send_data(data, l.pad_len);
  }
  /// An in-capsule write as one send(): it reaches the receiver whole, in one recv.
  void send_write_in_one_piece(nvme::Sqe sqe, const Bytes& data) {
    sqe.flags = nvme::kPsdtSgl;
    sqe.dptr = {};
    sqe.dptr.length = static_cast<std::uint32_t>(data.size());
    sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::offset);
    std::uint8_t head[kMaxDigestedHeader];
    auto l = build_capsule_cmd(head, sqe, digests, static_cast<std::uint32_t>(data.size()), 4);
    Bytes pdu(head, head + l.header_len);
    pdu.insert(pdu.end(), l.pad_len, 0);
    pdu.insert(pdu.end(), data.begin(), data.end());
    send(pdu);
  }
  void send_h2c(std::uint16_t cid, std::uint16_t ttag, std::uint32_t offset, const Bytes& data, bool last) {
    std::uint8_t head[kMaxDigestedHeader];
    auto l = build_h2c_data(head, cid, ttag, offset, static_cast<std::uint32_t>(data.size()), last, digests, 4);
    send(head, l.header_len);
    send_data(data, l.pad_len);
  }
  void send_data(const Bytes& data, std::uint32_t pad) {
    if (data.empty()) return;
    Bytes zeros(pad);
    send(zeros);
    send(data);
    if (digests.data) {
      std::uint8_t d[4];
      put_le32(d, nvme::crc32c(data.data(), data.size()));
      send(d, 4);
    }
  }
  Digests digests;

 private:
  int fd_ = -1;
};

inline nvme::Sqe make_sqe(std::uint8_t opcode, std::uint16_t cid, std::uint32_t seed = 0, std::uint32_t cdw13 = 0) {
  nvme::Sqe s{};
  s.opcode = opcode;
  s.cid = cid;
  s.nsid = 1;
  s.cdw10 = seed;
  s.cdw13 = cdw13;
  return s;
}

inline nvme::Sqe make_connect(std::uint16_t cid, std::uint16_t qid, std::uint16_t sqsize, bool disable_sq_fc) {
  nvme::ConnectCommand c{};
  c.opcode = nvme::kFabricsOpcode;
  c.cid = cid;
  c.fctype = nvme_fabrics_type_connect;
  c.qid = qid;
  c.sqsize = sqsize;
  c.cattr = disable_sq_fc ? nvme::kConnectCattrDisableSqFlowControl : 0;
  return nvme::to_sqe(c);
}

inline pdu::CommonHeader common(const Bytes& p) {
  pdu::CommonHeader ch{};
  if (p.size() >= sizeof ch) std::memcpy(&ch, p.data(), sizeof ch);
  return ch;
}
template <typename T>
T as(const Bytes& p) {
  T t{};
  if (p.size() >= sizeof t) std::memcpy(&t, p.data(), sizeof t);
  return t;
}

}  // namespace nvmf::fabric::tcp::testing
