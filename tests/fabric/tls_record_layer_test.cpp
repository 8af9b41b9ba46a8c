// Which record layer a TLS connection gets: the kernel's (`tls` ULP) where this kernel has it, else user space
// (also when NVMF_TLS_USERSPACE forces it); bytes flow both ways either way. And the key schedule step kernel
// TLS needs, against RFC 8448 section 3 (simple 1-RTT handshake).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "fabric/tls/kernel_tls.hpp"
#include "fabric/tls/tls_channel.hpp"
#include "tls_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tls::testing;

namespace {

Bytes unhex(const char* s) {
  Bytes out;
  for (; s[0] && s[1]; s += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(s, 2), nullptr, 16)));
  return out;
}

TEST(KernelTlsKeys, ExpandLabelMatchesRfc8448) {
  struct {
    const char *secret, *key, *iv;
  } cases[] = {
      {"a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643", "9f02283b6c9c07efc26bb9f2ac92e356",
       "cf782b88dd83549aadf1e984"},  // server application traffic
      {"9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5", "17422dda596ed5d9acd890e3c63f5051",
       "5b78923dee08579033e523d9"},  // client application traffic
  };
  for (const auto& c : cases) {
    const Bytes secret = unhex(c.secret);
    Bytes key(16), iv(12);
    ASSERT_TRUE(tls::expand_label("SHA256", secret.data(), secret.size(), "key", key.data(), key.size()));
    ASSERT_TRUE(tls::expand_label("SHA256", secret.data(), secret.size(), "iv", iv.data(), iv.size()));
    EXPECT_EQ(key, unhex(c.key));
    EXPECT_EQ(iv, unhex(c.iv));
  }
}

/// A connected loopback TCP pair: {client, server}.
std::pair<int, int> tcp_pair() {
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  EXPECT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(::listen(l, 1), 0);
  EXPECT_EQ(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  const int s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(l);
  return {c, s};
}

/// Whether this kernel takes the `tls` ULP on an established TCP socket (ENOENT: no such ULP).
bool kernel_has_tls_ulp() {
  auto [c, s] = tcp_pair();
  const bool ok = ::setsockopt(c, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) == 0;
  ::close(c);
  ::close(s);
  return ok;
}

int domain_of(int fd) {
  int d = -1;
  socklen_t len = sizeof(d);
  EXPECT_EQ(::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &len), 0);
  return d;
}

std::string ulp_of(int fd) {
  char name[16] = {};
  socklen_t len = sizeof(name);
  if (::getsockopt(fd, SOL_TCP, TCP_ULP, name, &len) != 0) return "";
  return name;
}

/// Sends `data` on `from` and reads it all on `to`, driving the reactor (the user-space layer relays there).
void relay(Reactor& reactor, int from, int to, const Bytes& data) {
  ASSERT_EQ(::send(from, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT), ssize_t(data.size()));
  Bytes got;
  std::uint8_t buf[4096];
  ASSERT_TRUE(drive(reactor, [&] {
    const ssize_t n = ::recv(to, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) got.insert(got.end(), buf, buf + n);
    return got.size() >= data.size();
  }));
  EXPECT_EQ(got, data);
}

struct Side {
  int fd = -2;
  std::string why, host;
};

/// A TLS session over a loopback pair; expects both ends' sockets on the path `kernel` says, then checks bytes
/// both ways.
void session(std::uint8_t hash, bool kernel) {
  KeyTable keys;
  auto key = psk::generate_psk(hash);
  keys.set(kHost, key);
  auto server_ctx = std::make_shared<tls::ServerContext>([&](const std::string& id) { return keys.lookup(id); });
  Reactor reactor(1);
  auto [c, s] = tcp_pair();
  Side client, server;
  tls::accept_tls(reactor, s, "client", server_ctx, false, [&](int fd, const std::string& why, const std::string& h) {
    server = {fd, why, h};
  });
  auto link = tls::connect_tls(reactor, c, "server", client_for(key, 1), 3000ms,
                               [&](int fd, const std::string& why, const std::string& h) { client = {fd, why, h}; });
  ASSERT_TRUE(drive(reactor, [&] { return client.fd != -2 && server.fd != -2; }));
  ASSERT_GE(client.fd, 0) << client.why;
  ASSERT_GE(server.fd, 0) << server.why;
  EXPECT_EQ(server.host, kHost);
  for (int fd : {client.fd, server.fd}) {
    if (kernel) {
      EXPECT_EQ(domain_of(fd), AF_INET) << "the PDU code should get the TCP socket";
      EXPECT_EQ(ulp_of(fd), "tls");
    } else {
      EXPECT_EQ(domain_of(fd), AF_UNIX) << "the PDU code should get the user-space layer's socketpair";
    }
  }
  relay(reactor, client.fd, server.fd, pattern(1, 100000));
  relay(reactor, server.fd, client.fd, pattern(2, 70000));
  ::close(client.fd);
  ::close(server.fd);
  link->close();
  for (int i = 0; i < 20; ++i) reactor.run_once(1ms);  // let the channels see the close and go
}

class RecordLayer : public ::testing::TestWithParam<std::uint8_t> {
 protected:
  void TearDown() override { ::unsetenv("NVMF_TLS_USERSPACE"); }
};

TEST_P(RecordLayer, KernelWhereTheKernelHasTlsElseUserSpace) {
  ::unsetenv("NVMF_TLS_USERSPACE");
  const bool kernel = kernel_has_tls_ulp();
  RecordProperty("kernel_tls", kernel ? "yes" : "no");
  session(GetParam(), kernel);
}

TEST_P(RecordLayer, UserSpaceWhenForced) {
  ::setenv("NVMF_TLS_USERSPACE", "1", 1);
  session(GetParam(), false);
}

INSTANTIATE_TEST_SUITE_P(Suites, RecordLayer, ::testing::Values(psk::kHashSha256, psk::kHashSha384));

}  // namespace
