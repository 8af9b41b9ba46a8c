// OpenSSL 3 contexts for NVMe/TCP secure channels (NVMe TCP Transport 3.6.1, TP 8011): TLS 1.3 only, PSK with
// (EC)DHE (psk_dhe_ke; OpenSSL offers and accepts no psk_ke without SSL_OP_ALLOW_NO_DHE_KEX), suites
// TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384, no session tickets, no resumption, no certificates.
// The Linux host aborts on any record other than application data before ICResp, so nothing is sent after the
// handshake but application data.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nvme/tls_psk.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace nvmf::fabric::tls {

/// What a controller's PSK lookup found for an offered identity.
struct PskMatch {
  bool found = false;
  nvme::tls::TlsPsk psk;  ///< The TLS PSK bound to the identity (found only)
  std::string host;       ///< Host NQN named by the identity (for the log), empty when unparseable
  std::string why;        ///< Why nothing was found (for the log; never a key)
};
/// identity -> TLS PSK. Called on reactor threads: must be thread-safe and must not block for long.
using PskLookup = std::function<PskMatch(const std::string& identity)>;

/// Shared by a listener's connections (SSL_CTX is safe to share between threads).
class ServerContext {
 public:
  explicit ServerContext(PskLookup lookup, std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10));
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;
  SSL* new_ssl() const;
  const PskLookup& lookup() const { return lookup_; }
  std::chrono::milliseconds handshake_timeout() const { return timeout_; }

 private:
  SSL_CTX* ctx_;
  PskLookup lookup_;
  std::chrono::milliseconds timeout_;
};

class ClientContext {
 public:
  explicit ClientContext(nvme::tls::TlsPsk psk);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;
  SSL* new_ssl() const;
  const nvme::tls::TlsPsk& psk() const { return psk_; }

 private:
  SSL_CTX* ctx_;
  nvme::tls::TlsPsk psk_;
};

/// The session's application traffic secrets (RFC 8446 7.1), from OpenSSL's key log callback: what kernel TLS
/// needs. Wiped once used and on destruction; never logged.
struct TrafficSecrets {
  std::vector<std::uint8_t> client, server;
  TrafficSecrets() = default;
  TrafficSecrets(const TrafficSecrets&) = delete;
  TrafficSecrets& operator=(const TrafficSecrets&) = delete;
  ~TrafficSecrets() { clear(); }
  void clear();
};

/// Per connection: what the PSK callbacks learnt, for the handshake's log line.
struct HandshakeNotes {
  const ServerContext* server = nullptr;
  const ClientContext* client = nullptr;
  std::string host;  ///< Host NQN of the offered identity
  std::string why;   ///< Our reason for refusing the identity
  bool psk_selected = false;
  TrafficSecrets secrets;
};
/// SSL ex-data slot holding a HandshakeNotes*.
void attach_notes(SSL* ssl, HandshakeNotes* notes);

/// OpenSSL's reason for the last failure on this thread, in words (and clears the error queue).
std::string last_ssl_error();

}  // namespace nvmf::fabric::tls
