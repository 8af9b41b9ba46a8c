// NVMe/TCP over TLS 1.3 (TP 8011), host queue against controller queue on loopback through the user-space
// record layer: verified I/O with both suites and both identity versions; refusals (wrong key, wrong identity,
// unknown host, plain hosts on TLS ports and TLS hosts on a plain port).
#include "tls_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tls::testing;


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
