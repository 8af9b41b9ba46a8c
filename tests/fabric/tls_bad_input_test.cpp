// Bad input on a TLS port, from raw OpenSSL clients and raw sockets: each case must end that connection within
// bounded time, without a crash, while verified I/O on a TLS connection opened before it goes on.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>

#include "tls_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tls::testing;

namespace {

/// A TLS 1.3 client over a blocking socket and memory BIOs, so the test sees (and can corrupt) every record.
class RawTlsClient {
 public:
  RawTlsClient(const std::string& port, int max_version, const psk::TlsPsk* offer) : raw_(port), offer_(offer) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(ctx_, max_version);
    if (max_version < TLS1_3_VERSION) SSL_CTX_set_cipher_list(ctx_, "ECDHE-RSA-AES128-GCM-SHA256");
    if (offer_) SSL_CTX_set_psk_use_session_callback(ctx_, &RawTlsClient::use_psk);
    ssl_ = SSL_new(ctx_);
    SSL_set_app_data(ssl_, this);
    SSL_set_connect_state(ssl_);
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio_, -1);
    SSL_set_bio(ssl_, rbio_, wbio_);
  }
  ~RawTlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  /// Runs the handshake; false when the server refused it (alert or close).
  bool handshake() {
    for (;;) {
      const int r = SSL_do_handshake(ssl_);
      flush();
      if (r == 1) return true;
      const int e = SSL_get_error(ssl_, r);
      if (e != SSL_ERROR_WANT_READ) {
        char text[256];
        ERR_error_string_n(ERR_peek_error(), text, sizeof text);
        why_ = "SSL_get_error " + std::to_string(e) + ": " + text;
        return false;
      }
      std::uint8_t buf[16384];
      const ssize_t n = raw_.recv_some(buf, sizeof buf);
      if (n <= 0) {
        why_ = n == 0 ? "server closed the connection" : std::string("recv: ") + std::strerror(errno);
        return false;
      }
      BIO_write(rbio_, buf, static_cast<int>(n));
    }
  }
  /// The ciphertext records SSL_write makes of `data`, not sent.
  Bytes seal(const Bytes& data) {
    EXPECT_EQ(SSL_write(ssl_, data.data(), static_cast<int>(data.size())), static_cast<int>(data.size()));
    Bytes out(BIO_ctrl_pending(wbio_));
    BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
    return out;
  }
  /// The ClientHello, not sent.
  Bytes client_hello() {
    SSL_do_handshake(ssl_);
    Bytes out(BIO_ctrl_pending(wbio_));
    BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
    return out;
  }
  void flush() {
    std::uint8_t buf[16384];
    int n;
    while ((n = BIO_read(wbio_, buf, sizeof buf)) > 0) raw_.send(buf, static_cast<std::size_t>(n));
  }
  RawClient& raw() { return raw_; }
  /// Why handshake() returned false.
  const std::string& why() const { return why_; }

 private:
  static int use_psk(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
    auto* self = static_cast<RawTlsClient*>(SSL_get_app_data(ssl));
    const unsigned char suite[2] = {0x13, 0x01};
    *sess = SSL_SESSION_new();
    SSL_SESSION_set1_master_key(*sess, self->offer_->key.data(), self->offer_->key.size());
    SSL_SESSION_set_cipher(*sess, SSL_CIPHER_find(ssl, suite));
    SSL_SESSION_set_protocol_version(*sess, TLS1_3_VERSION);
    *id = reinterpret_cast<const unsigned char*>(self->offer_->identity.data());
    *idlen = self->offer_->identity.size();
    return 1;
  }
  RawClient raw_;
  const psk::TlsPsk* offer_;
  SSL_CTX* ctx_;
  SSL* ssl_;
  BIO* rbio_;
  BIO* wbio_;
  std::string why_;
};

/// The server closed the connection (recv sees EOF or a reset) within `timeout`; data before that is drained.
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  std::uint8_t buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
  }
  return false;
}

class TlsBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = psk::generate_psk(psk::kHashSha256);
    server_.keys.set(kHost, key_);
    std::string error;
    good_ = connect_tcp_host_queue(reactor_, options_for(server_.port(), client_for(key_, 0)), &error);
    ASSERT_TRUE(good_) << error;
  }
  /// Verified I/O on the connection opened before the bad input: it must be unaffected.
  void io_still_works() {
    verified_io(*good_, reactor_, 8192, ++seed_);
    EXPECT_TRUE(good_->alive());
  }
  void expect_refused(RawTlsClient& c) {
    EXPECT_FALSE(c.handshake());
    EXPECT_TRUE(closed_within(c.raw().fd(), 3s));
    io_still_works();
    EXPECT_EQ(server_.stats.handlers.load(), 1) << "nothing reached the PDU code";
  }

  TlsServer server_{TlsPolicy::required, 500ms};
  psk::ConfiguredPsk key_;
  Reactor reactor_{1};
  std::unique_ptr<TcpHostQueue> good_;
  std::uint32_t seed_ = 100;
};

}  // namespace

TEST_F(TlsBadInput, ClientHelloWithoutPsk) {
  RawTlsClient c(server_.port(), TLS1_3_VERSION, nullptr);
  expect_refused(c);
}

TEST_F(TlsBadInput, UnknownIdentity) {
  auto other = psk::derive_tls_psk(key_, "nqn.2014-08.org.example:unknown", kSub, 0);
  RawTlsClient c(server_.port(), TLS1_3_VERSION, &other);
  expect_refused(c);
}

TEST_F(TlsBadInput, WrongBinder) {
  auto wrong = psk::derive_tls_psk(psk::generate_psk(psk::kHashSha256), kHost, kSub, 0);
  RawTlsClient c(server_.port(), TLS1_3_VERSION, &wrong);
  expect_refused(c);
}

TEST_F(TlsBadInput, Tls12Hello) {
  RawTlsClient c(server_.port(), TLS1_2_VERSION, nullptr);
  expect_refused(c);
}

TEST_F(TlsBadInput, GarbageInsteadOfHello) {
  {
    RawClient c(server_.port());
    const char text[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    c.send(text, sizeof text - 1);
    EXPECT_TRUE(closed_within(c.fd(), 3s));
  }
  {
    // A handshake record header with a body that is no ClientHello.
    RawClient c(server_.port());
    Bytes record = {22, 3, 1, 0, 64};
    Bytes body = pattern(9, 64);
    record.insert(record.end(), body.begin(), body.end());
    c.send(record);
    EXPECT_TRUE(closed_within(c.fd(), 3s));
  }
  {
    // An oversized record length.
    RawClient c(server_.port());
    c.send(Bytes{22, 3, 1, 0xff, 0xff});
    EXPECT_TRUE(closed_within(c.fd(), 3s));
  }
  io_still_works();
  EXPECT_EQ(server_.stats.handlers.load(), 1);
}

TEST_F(TlsBadInput, PlainIcReqOnTlsRequiredPort) {
  RawClient c(server_.port());
  pdu::IcReq req{};
  req.ch.pdu_type = pdu::PduType::ic_req;
  req.ch.hlen = sizeof req;
  req.ch.plen = sizeof req;
  c.send(&req, sizeof req);
  EXPECT_TRUE(closed_within(c.fd(), 3s));
  io_still_works();
  EXPECT_EQ(server_.stats.handlers.load(), 1);
}

TEST_F(TlsBadInput, RecordFailingAuthenticationMidStream) {
  auto good = psk::derive_tls_psk(key_, kHost, kSub, 0);
  RawTlsClient c(server_.port(), TLS1_3_VERSION, &good);
  ASSERT_TRUE(c.handshake()) << c.why();
  // A sealed ICReq with one ciphertext byte flipped: AES-GCM authentication fails on the server.
  pdu::IcReq req{};
  req.ch.pdu_type = pdu::PduType::ic_req;
  req.ch.hlen = sizeof req;
  req.ch.plen = sizeof req;
  Bytes plain(reinterpret_cast<const std::uint8_t*>(&req), reinterpret_cast<const std::uint8_t*>(&req) + sizeof req);
  Bytes sealed = c.seal(plain);
  ASSERT_GT(sealed.size(), 10u);
  sealed[sealed.size() / 2] ^= 0x40;
  c.raw().send(sealed);
  EXPECT_TRUE(closed_within(c.raw().fd(), 3s));
  io_still_works();
  EXPECT_TRUE(wait_until([&] { return server_.stats.destroyed.load() == server_.stats.handlers.load() - 1; }))
      << "the controller queue behind the broken session is gone";
}

TEST_F(TlsBadInput, ClosedMidHandshake) {
  for (int cut : {3, 40, -1}) {
    RawTlsClient c(server_.port(), TLS1_3_VERSION, nullptr);
    // Produce the ClientHello, send part of it (or all of it) and close.
    Bytes hello = c.client_hello();
    ASSERT_GT(hello.size(), 40u);
    if (cut > 0 && hello.size() > static_cast<std::size_t>(cut)) hello.resize(static_cast<std::size_t>(cut));
    if (!hello.empty()) c.raw().send(hello);
    c.raw().close();
  }
  io_still_works();
  EXPECT_EQ(server_.stats.handlers.load(), 1);
}

TEST_F(TlsBadInput, HundredsOfHalfOpenHandshakes) {
  // 300 connections that never finish: nothing, a record header, or a header and part of its body. The
  // handshake timeout (500 ms here) ends each; verified I/O goes on meanwhile.
  std::vector<std::unique_ptr<RawClient>> half;
  for (int i = 0; i < 300; ++i) {
    half.push_back(std::make_unique<RawClient>(server_.port()));
    if (i % 3 == 1) half.back()->send(Bytes{22, 3, 1, 1, 0});
    if (i % 3 == 2) half.back()->send(Bytes{22, 3, 1, 1, 0, 1, 0, 0});
  }
  for (int round = 0; round < 5; ++round) io_still_works();
  for (auto& c : half) EXPECT_TRUE(closed_within(c->fd(), 5s));
  io_still_works();
  EXPECT_EQ(server_.stats.handlers.load(), 1);
}
