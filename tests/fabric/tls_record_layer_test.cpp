// Which record layer a TLS connection gets: the kernel's (`tls` ULP) where this kernel has it, else user space
// (also when NVMF_TLS_USERSPACE forces it); bytes flow both ways either way, and the user-space layer packs a
// send into full records. And the key schedule step kernel
// TLS needs, against RFC 8448 section 3 (simple 1-RTT handshake).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "fabric/tls/kernel_tls.hpp"
#include "fabric/tls/tls_channel.hpp"
#include "tests/perf/allocation_counter.hpp"
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

/// Sends `data` on `from` and reads it all on `to`, driving the reactor (kernel TLS: plain socket calls).
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

/// One RecordStream call's completion.
struct Completion {
  IoOp op;
  bool pending = false;
  std::int32_t res = 0;
  Completion() {
    op.handler = [](IoOp& o, std::int32_t r, std::uint32_t) {
      auto& c = owner_of(&Completion::op, o);
      c.pending = false;
      c.res = r;
    };
  }
};

/// Scatter list over data[from, size) in uneven pieces, like a PDU sender's headers and data buffers.
std::vector<iovec> pieces(const Bytes& data, std::size_t from) {
  static const std::size_t sizes[] = {72, 4096, 24, 8, 5000, 1};
  std::vector<iovec> iov;
  for (std::size_t i = 0; from < data.size(); ++i) {
    const std::size_t n = std::min(sizes[i % 6], data.size() - from);
    iov.push_back({const_cast<std::uint8_t*>(data.data()) + from, n});
    from += n;
  }
  return iov;
}

/// Sends `data` through `from`'s record layer (scatter lists as the PDU sender makes them) while `to`'s record
/// layer receives it into buffers of another size; both sides' calls complete as a socket's would.
void relay_records(Reactor& reactor, tls::RecordStream& from, tls::RecordStream& to, const Bytes& data) {
  Completion s, r;
  std::size_t sent = 0, received = 0;
  Bytes got(data.size());
  std::vector<iovec> send_iov;
  iovec recv_iov{};
  ASSERT_TRUE(drive(reactor, [&] {
    if (!s.pending && sent < data.size()) {
      if (s.res < 0) return true;
      sent += static_cast<std::size_t>(s.res);
      s.res = 0;
      if (sent < data.size()) {
        send_iov = pieces(data, sent);
        s.pending = true;
        from.send(send_iov.data(), static_cast<unsigned>(send_iov.size()), s.op);
      }
    }
    if (!r.pending && received < data.size()) {
      if (r.res < 0) return true;
      received += static_cast<std::size_t>(r.res);
      if (r.res == 0 && received > 0 && received < data.size()) return true;  // end of stream: fails below
      r.res = 0;
      if (received < data.size()) {
        recv_iov = {got.data() + received, std::min<std::size_t>(data.size() - received, 7000)};
        r.pending = true;
        to.recv(&recv_iov, 1, r.op);
      }
    }
    return sent == data.size() && received == data.size() && !s.pending && !r.pending;
  }));
  EXPECT_GE(s.res, 0);
  EXPECT_GE(r.res, 0);
  EXPECT_EQ(received, data.size());
  EXPECT_EQ(got, data);
}

struct Side {
  int fd = -2;
  std::string why, host;
  std::unique_ptr<tls::RecordStream> records;
};

/// A TLS session over a loopback pair, both ends handed over.
struct Session {
  KeyTable keys;
  Reactor reactor{1};
  Side client, server;
  std::shared_ptr<tls::TlsLink> link;

  explicit Session(std::uint8_t hash) {
    auto key = psk::generate_psk(hash);
    keys.set(kHost, key);
    auto server_ctx = std::make_shared<tls::ServerContext>([this](const std::string& id) { return keys.lookup(id); });
    auto [c, s] = tcp_pair();
    auto ready = [](Side& side) {
      return [&side](int fd, const std::string& why, const std::string& h, std::unique_ptr<tls::RecordStream> r) {
        side = {fd, why, h, std::move(r)};
      };
    };
    tls::accept_tls(reactor, s, "client", server_ctx, false, ready(server));
    link = tls::connect_tls(reactor, c, "server", client_for(key, 1), 3000ms, ready(client));
    EXPECT_TRUE(drive(reactor, [&] { return client.fd != -2 && server.fd != -2; }));
  }
  ~Session() {
    client.records.reset();  // no call of theirs is pending by now
    server.records.reset();
    if (client.fd >= 0) ::close(client.fd);
    if (server.fd >= 0) ::close(server.fd);
    for (int i = 0; i < 5; ++i) reactor.run_once(1ms);
  }
};

/// A TLS session over a loopback pair; expects both ends on the path `kernel` says (the PDU code always gets the
/// TCP socket; a record layer object only in user space), then checks bytes both ways.
void session(std::uint8_t hash, bool kernel) {
  Session t(hash);
  ASSERT_GE(t.client.fd, 0) << t.client.why;
  ASSERT_GE(t.server.fd, 0) << t.server.why;
  EXPECT_EQ(t.server.host, kHost);
  for (Side* side : {&t.client, &t.server}) {
    EXPECT_EQ(domain_of(side->fd), AF_INET) << "the PDU code should get the TCP socket";
    if (kernel) {
      EXPECT_EQ(ulp_of(side->fd), "tls");
      EXPECT_EQ(side->records, nullptr);
    } else {
      EXPECT_NE(side->records, nullptr) << "the PDU code should get the user-space record layer";
    }
  }
  if (kernel) {
    relay(t.reactor, t.client.fd, t.server.fd, pattern(1, 100000));
    relay(t.reactor, t.server.fd, t.client.fd, pattern(2, 70000));
  } else {
    relay_records(t.reactor, *t.client.records, *t.server.records, pattern(1, 100000));
    relay_records(t.reactor, *t.server.records, *t.client.records, pattern(2, 300000));
  }
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

/// TLS record headers in the raw bytes of `fd` until `total` bytes came: the length of each record.
std::vector<std::size_t> record_lengths(Reactor& reactor, int fd, std::size_t total) {
  Bytes raw;
  std::uint8_t buf[65536];
  EXPECT_TRUE(drive(reactor, [&] {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) raw.insert(raw.end(), buf, buf + n);
    return raw.size() >= total;
  }));
  std::vector<std::size_t> lengths;
  for (std::size_t at = 0; at + 5 <= raw.size();) {
    EXPECT_EQ(raw[at], 23) << "application data record";
    const std::size_t len = (std::size_t(raw[at + 3]) << 8) | raw[at + 4];
    lengths.push_back(len);
    at += 5 + len;
  }
  return lengths;
}

// What makes the user-space layer cheap: a sender's whole batch of small PDUs goes out as one record, and a large
// batch as full 16 KiB records, not one record per scatter entry.
TEST_P(RecordLayer, OneSendPacksItsScatterListIntoFullRecords) {
  ::setenv("NVMF_TLS_USERSPACE", "1", 1);
  Session t(GetParam());
  ASSERT_NE(t.client.records, nullptr) << t.client.why;
  constexpr std::size_t kTag = 16, kType = 1;  // AES-GCM tag, TLS 1.3 inner content type
  for (const std::size_t size : {std::size_t(8 * 520), std::size_t(40000)}) {
    const Bytes data = pattern(3, size);
    const std::vector<iovec> iov = pieces(data, 0);
    Completion s;
    s.pending = true;
    t.client.records->send(iov.data(), static_cast<unsigned>(iov.size()), s.op);
    ASSERT_TRUE(drive(t.reactor, [&] { return !s.pending; }));
    ASSERT_EQ(s.res, static_cast<std::int32_t>(size));
    const std::size_t records = (size + 16383) / 16384;
    const auto lengths = record_lengths(t.reactor, t.server.fd, size + records * (5 + kType + kTag));
    ASSERT_EQ(lengths.size(), records) << iov.size() << " scatter entries of " << size << " bytes";
    for (std::size_t i = 0; i < records; ++i)
      EXPECT_EQ(lengths[i], std::min<std::size_t>(16384, size - i * 16384) + kType + kTag);
  }
}

// The peer closing its TCP end: a receive completes with 0 (end of stream), as recv(2) would.
TEST_P(RecordLayer, PeerCloseEndsTheStream) {
  ::setenv("NVMF_TLS_USERSPACE", "1", 1);
  Session t(GetParam());
  ASSERT_NE(t.server.records, nullptr) << t.server.why;
  Completion r;
  std::uint8_t buf[100];
  iovec iov{buf, sizeof buf};
  r.pending = true;
  t.server.records->recv(&iov, 1, r.op);
  for (int i = 0; i < 5; ++i) t.reactor.run_once(1ms);
  EXPECT_TRUE(r.pending) << "nothing was sent yet";
  t.client.records.reset();
  ::close(t.client.fd);
  t.client.fd = -1;
  ASSERT_TRUE(drive(t.reactor, [&] { return !r.pending; }));
  EXPECT_EQ(r.res, 0);
}

// OpenSSL's own allocations, counted apart (its allocator hooks, installed before it allocates anything): Debian
// 12's OpenSSL 3.0 allocates small WPACKET bookkeeping for every record it seals, which no caller can avoid.
std::atomic<bool> g_count_openssl{false};
std::atomic<std::uint64_t> g_openssl_allocations{0};
void* openssl_malloc(std::size_t n, const char*, int) {
  if (g_count_openssl.load(std::memory_order_relaxed)) g_openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* openssl_realloc(void* p, std::size_t n, const char*, int) {
  if (g_count_openssl.load(std::memory_order_relaxed)) g_openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void openssl_free(void* p, const char*, int) { std::free(p); }
const bool g_openssl_hooked = CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;

// No allocation per I/O in our record layer: after a warm-up, a few hundred exchanges of a 40 KiB batch (three
// records each way) through a pair of RecordStreams leave the allocation counter (operator new and, outside
// sanitizer builds, the C allocator) where it was, apart from what OpenSSL allocates inside SSL_write/SSL_read.
TEST_P(RecordLayer, NothingAllocatedPerExchange) {
  ASSERT_TRUE(g_openssl_hooked) << "OpenSSL allocated before the test could count its allocations";
  ::setenv("NVMF_TLS_USERSPACE", "1", 1);
  Session t(GetParam());
  ASSERT_NE(t.client.records, nullptr) << t.client.why;
  ASSERT_NE(t.server.records, nullptr) << t.server.why;
  const Bytes data = pattern(4, 40000);
  const std::vector<iovec> iov = pieces(data, 0);
  Bytes got(data.size());
  Completion s, r;
  iovec recv_iov{};
  auto exchange = [&]() -> bool {
    s.pending = true;
    t.client.records->send(iov.data(), static_cast<unsigned>(iov.size()), s.op);
    std::size_t received = 0;
    bool armed = false;
    for (int turns = 0; turns < 10000 && (s.pending || armed || received < data.size()); ++turns) {
      if (armed && !r.pending) {
        if (r.res <= 0) return false;
        received += static_cast<std::size_t>(r.res);
        armed = false;
      }
      if (!armed && received < data.size()) {
        recv_iov = {got.data() + received, data.size() - received};
        r.pending = armed = true;
        t.server.records->recv(&recv_iov, 1, r.op);
      }
      if (s.pending || armed) t.reactor.run_once(10ms);
    }
    return !s.pending && s.res == static_cast<std::int32_t>(data.size()) && received == data.size();
  };
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(exchange()) << "warm-up " << i;
  constexpr int kExchanges = 300;
  g_openssl_allocations = 0;
  g_count_openssl = true;
  test::start_counting_allocations();
  bool ok = true;
  for (int i = 0; i < kExchanges && ok; ++i) ok = exchange();
  const auto counts = test::stop_counting_allocations();
  g_count_openssl = false;
  ASSERT_TRUE(ok);
  EXPECT_EQ(got, data);
  const std::uint64_t openssl = g_openssl_allocations.load();
  RecordProperty("openssl_allocations_per_exchange", std::to_string(openssl / kExchanges));
  if (test::counting_malloc())
    EXPECT_EQ(counts.count, openssl) << "allocations outside OpenSSL; first: " << counts.first_size << " bytes";
  else  // sanitizer build: only operator new is counted, and OpenSSL never calls it
    EXPECT_EQ(counts.count, 0u) << "first allocation: " << counts.first_size << " bytes";
}

INSTANTIATE_TEST_SUITE_P(Suites, RecordLayer, ::testing::Values(psk::kHashSha256, psk::kHashSha384));

}  // namespace
