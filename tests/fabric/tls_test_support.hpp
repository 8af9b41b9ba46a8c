// Test support for NVMe/TCP over TLS: a key table answering PSK lookups as the target does, a TLS listener on a
// one-reactor group, and verified I/O through a host queue.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "fabric/tcp/host_queue.hpp"
#include "fabric/tls/tls_context.hpp"
#include "nvme/tls_psk.hpp"
#include "tcp_test_support.hpp"

namespace nvmf::fabric::tls::testing {

using namespace nvmf::fabric::tcp;
using namespace nvmf::fabric::tcp::testing;
namespace psk = nvmf::nvme::tls;


inline const char* kHost = "nqn.2014-08.org.nvmexpress:uuid:tls-test-host";
inline const char* kSub = "nqn.2024-01.io.example:tls-sub";

/// Host NQN -> configured PSK, answered the way the target answers (parse, find the host, derive, compare).
class KeyTable {
 public:
  void set(const std::string& host, const psk::ConfiguredPsk& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    keys_[host] = key;
  }
  tls::PskMatch lookup(const std::string& identity) {
    tls::PskMatch m;
    auto id = psk::parse_identity(identity);
    if (!id) {
      m.why = "unparseable PSK identity";
      return m;
    }
    m.host = id->hostnqn;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = keys_.find(id->hostnqn);
    if (it == keys_.end()) {
      m.why = "no PSK configured for this host";
      return m;
    }
    auto p = psk::psk_for_identity(*id, it->second, &m.why);
    if (!p) return m;
    m.found = true;
    m.psk = std::move(*p);
    return m;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, psk::ConfiguredPsk> keys_;
};

struct Done {
  int count = 0;
  bool ok = true;
};
inline void on_done(HostRequest& req) {
  auto* d = static_cast<Done*>(req.context);
  ++d->count;
  if (!req.status().ok()) d->ok = false;
}

template <typename Pred>
bool drive(Reactor& r, Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    r.run_once(10ms);
  }
  return true;
}

/// A listener on 127.0.0.1 with a TLS policy and the key table.
class TlsServer {
 public:
  explicit TlsServer(TlsPolicy policy, std::chrono::milliseconds handshake_timeout = 2000ms)
      : group_({-1}, ReactorOptions{}), factory_(stats) {
    group_.start();
    auto config = TestServer::default_config();
    config.tls = std::make_shared<tls::ServerContext>([this](const std::string& id) { return keys.lookup(id); },
                                                      handshake_timeout);
    ListenAddress a{TransportType::tcp, false, "127.0.0.1", "0"};
    a.tls = policy;
    listener_ = listen_tcp(group_, a, config, factory_);
  }
  ~TlsServer() {
    listener_.reset();
    EXPECT_TRUE(wait_until([&] { return stats.destroyed.load() == stats.handlers.load(); }));
    group_.stop();
  }
  std::string port() const { return listener_->address().trsvcid; }
  KeyTable keys;
  HandlerStats stats;

 private:
  ReactorGroup group_;
  EchoFactory factory_;
  std::unique_ptr<Listener> listener_;
};

inline HostQueueOptions options_for(const std::string& port, std::shared_ptr<const tls::ClientContext> tls) {
  HostQueueOptions o;
  o.trsvcid = port;
  o.queue_depth = 32;
  o.connect_timeout = 3000ms;
  o.tls = std::move(tls);
  return o;
}

inline std::shared_ptr<const tls::ClientContext> client_for(const psk::ConfiguredPsk& key, int version,
                                                     const std::string& host = kHost) {
  return std::make_shared<tls::ClientContext>(psk::derive_tls_psk(key, host, kSub, version));
}

/// Writes then reads back `size` bytes (the echo handler checks writes against the pattern and serves reads
/// with it); several at once to exercise both directions of the record layer together.
inline void verified_io(TcpHostQueue& q, Reactor& reactor, std::uint32_t size, std::uint32_t seed) {
  constexpr int kParallel = 4;
  std::vector<Bytes> wdata, rdata(kParallel, Bytes(size));
  std::vector<iovec> wiov(kParallel), riov(kParallel);
  std::vector<HostRequest> w(kParallel), r(kParallel);
  Done done;
  for (int i = 0; i < kParallel; ++i) {
    wdata.push_back(pattern(seed + i, size));
    wiov[i] = {wdata[i].data(), size};
    riov[i] = {rdata[i].data(), size};
    for (auto [req, iov, dir, op] : {std::make_tuple(&w[i], &wiov[i], DataDirection::host_to_controller, 0x01),
                                     std::make_tuple(&r[i], &riov[i], DataDirection::controller_to_host, 0x02)}) {
      req->sqe = make_sqe(static_cast<std::uint8_t>(op), 0, seed + i);
      req->iov = iov;
      req->iovcnt = 1;
      req->direction = dir;
      req->on_complete = &on_done;
      req->context = &done;
      ASSERT_TRUE(q.submit(*req));
    }
  }
  ASSERT_TRUE(drive(reactor, [&] { return done.count == 2 * kParallel; }));
  EXPECT_TRUE(done.ok);
  for (int i = 0; i < kParallel; ++i) EXPECT_EQ(rdata[i], pattern(seed + i, size)) << size;
}


}  // namespace nvmf::fabric::tls::testing
