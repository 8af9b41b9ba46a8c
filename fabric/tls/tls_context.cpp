#include "fabric/tls/tls_context.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>
#include <stdexcept>

namespace nvmf::fabric::tls {

namespace {

int notes_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

HandshakeNotes* notes_of(SSL* ssl) { return static_cast<HandshakeNotes*>(SSL_get_ex_data(ssl, notes_index())); }

const SSL_CIPHER* suite_for(SSL* ssl, std::uint8_t hash) {
  // TLS_AES_128_GCM_SHA256 {0x13,0x01}, TLS_AES_256_GCM_SHA384 {0x13,0x02} (RFC 8446 B.4).
  const unsigned char id[2] = {0x13, static_cast<unsigned char>(hash == nvme::tls::kHashSha384 ? 0x02 : 0x01)};
  return SSL_CIPHER_find(ssl, id);
}

SSL_SESSION* psk_session(SSL* ssl, const nvme::tls::TlsPsk& psk) {
  const SSL_CIPHER* cipher = suite_for(ssl, psk.hash);
  SSL_SESSION* session = SSL_SESSION_new();
  if (!cipher || !session || !SSL_SESSION_set1_master_key(session, psk.key.data(), psk.key.size()) ||
      !SSL_SESSION_set_cipher(session, cipher) || !SSL_SESSION_set_protocol_version(session, TLS1_3_VERSION)) {
    SSL_SESSION_free(session);
    return nullptr;
  }
  return session;
}

/// Server: the client offered `identity`; hand OpenSSL the session carrying its TLS PSK, or none (the
/// handshake then fails: no certificate to fall back to).
int find_psk(SSL* ssl, const unsigned char* identity, size_t len, SSL_SESSION** session) {
  *session = nullptr;
  HandshakeNotes* notes = notes_of(ssl);
  if (!notes || !notes->server) return 0;
  // No exception may cross OpenSSL's C frames: one from the lookup refuses the handshake instead.
  PskMatch match;
  try {
    match = notes->server->lookup()(std::string(reinterpret_cast<const char*>(identity), len));
  } catch (const std::exception&) {
    match = PskMatch{};
    match.why = "PSK lookup failed";
  }
  if (!match.host.empty()) notes->host = match.host;
  if (!match.found) {
    if (notes->why.empty()) notes->why = match.why;
    return 1;
  }
  *session = psk_session(ssl, match.psk);
  notes->psk_selected = *session != nullptr;
  return *session ? 1 : 0;
}

/// Client: offer our identity and PSK (md is the hash of a suite already chosen after a HelloRetryRequest).
int use_psk(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen, SSL_SESSION** session) {
  *session = nullptr;
  *id = nullptr;
  *idlen = 0;
  HandshakeNotes* notes = notes_of(ssl);
  if (!notes || !notes->client) return 0;
  const auto& psk = notes->client->psk();
  const SSL_CIPHER* cipher = suite_for(ssl, psk.hash);
  if (!cipher || (md && md != SSL_CIPHER_get_handshake_digest(cipher))) return 1;
  *session = psk_session(ssl, psk);
  if (!*session) return 0;
  *id = reinterpret_cast<const unsigned char*>(psk.identity.data());
  *idlen = psk.identity.size();
  return 1;
}

const char* suite_name(std::uint8_t hash) {
  return hash == nvme::tls::kHashSha384 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256";
}

/// Server: OpenSSL picks the suite before it looks at the PSK and drops a PSK whose hash differs, so pick the
/// suite the first offered NVMe identity names ("NVMe?R01" SHA-256, "NVMe?R02" SHA-384).
int on_client_hello(SSL* ssl, int* alert, void*) {
  const unsigned char* ext = nullptr;
  size_t len = 0;
  (void)alert;
  if (!SSL_client_hello_get0_ext(ssl, 41 /* pre_shared_key, RFC 8446 4.2.11 */, &ext, &len) || len < 4)
    return SSL_CLIENT_HELLO_SUCCESS;  // no PSK offered: the handshake fails later for want of one
  const std::size_t identities = (std::size_t(ext[0]) << 8) | ext[1];
  const std::size_t first = (std::size_t(ext[2]) << 8) | ext[3];
  if (identities + 2 > len || first + 4 > len || first < 8) return SSL_CLIENT_HELLO_SUCCESS;
  const unsigned char* id = ext + 4;
  if (std::memcmp(id, "NVMe", 4) == 0 && id[6] == '0' && (id[7] == '1' || id[7] == '2'))
    SSL_set_ciphersuites(ssl, suite_name(id[7] == '2' ? nvme::tls::kHashSha384 : nvme::tls::kHashSha256));
  return SSL_CLIENT_HELLO_SUCCESS;
}

/// Key log line "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>" (hex; the NSS key log format): keep the
/// application traffic secrets in the connection's notes for kernel TLS. Nothing is written anywhere.
void keep_traffic_secret(const SSL* ssl, const char* line) {
  HandshakeNotes* notes = notes_of(const_cast<SSL*>(ssl));
  if (!notes) return;
  std::vector<std::uint8_t>* into = nullptr;
  if (std::strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0) into = &notes->secrets.client;
  else if (std::strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0) into = &notes->secrets.server;
  else return;
  const char* hex = std::strrchr(line, ' ');
  if (!hex) return;
  const std::size_t n = std::strlen(hex + 1) / 2;
  into->assign(n, 0);
  std::size_t got = 0;
  if (OPENSSL_hexstr2buf_ex(into->data(), n, &got, hex + 1, '\0') != 1 || got != n) {
    OPENSSL_cleanse(into->data(), into->size());
    into->clear();
  }
}

SSL_CTX* make_ctx(bool server) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) throw std::runtime_error("TLS: SSL_CTX_new failed: " + last_ssl_error());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384") != 1) {
    SSL_CTX_free(ctx);
    throw std::runtime_error("TLS: cipher suites unavailable");
  }
  // No tickets and no cache: no resumption, and no NewSessionTicket record after the handshake. No
  // middlebox-compatibility ChangeCipherSpec records either.
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT | SSL_OP_ALLOW_NO_DHE_KEX);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_max_early_data(ctx, 0);
  SSL_CTX_set_read_ahead(ctx, 0);  // nothing past the handshake is read into OpenSSL: kernel TLS takes the rest
  SSL_CTX_set_keylog_callback(ctx, keep_traffic_secret);
  if (server) {
    SSL_CTX_set_psk_find_session_callback(ctx, find_psk);
    SSL_CTX_set_client_hello_cb(ctx, on_client_hello, nullptr);
  } else {
    SSL_CTX_set_psk_use_session_callback(ctx, use_psk);
  }
  return ctx;
}

}  // namespace

void TrafficSecrets::clear() {
  for (auto* v : {&client, &server}) {
    if (!v->empty()) OPENSSL_cleanse(v->data(), v->size());
    v->clear();
  }
}

void attach_notes(SSL* ssl, HandshakeNotes* notes) { SSL_set_ex_data(ssl, notes_index(), notes); }

std::string last_ssl_error() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += reason ? reason : "unknown OpenSSL error";
  }
  return out;
}

ServerContext::ServerContext(PskLookup lookup, std::chrono::milliseconds handshake_timeout)
    : ctx_(make_ctx(true)), lookup_(std::move(lookup)), timeout_(handshake_timeout) {}
ServerContext::~ServerContext() { SSL_CTX_free(ctx_); }
SSL* ServerContext::new_ssl() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl) SSL_set_accept_state(ssl);
  return ssl;
}

ClientContext::ClientContext(nvme::tls::TlsPsk psk) : ctx_(make_ctx(false)), psk_(std::move(psk)) {}
ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }
SSL* ClientContext::new_ssl() const {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  SSL_set_connect_state(ssl);
  SSL_set_ciphersuites(ssl, suite_name(psk_.hash));  // only the suite our PSK is bound to
  return ssl;
}

}  // namespace nvmf::fabric::tls
