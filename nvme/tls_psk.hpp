// NVMe/TCP TLS pre-shared keys (NVMe TCP Transport 3.6.1.3 and 3.6.1.4, TP 8011): the PSK interchange format,
// the retained PSK derived from a configured PSK, the TLS PSK identity and the TLS PSK handed to TLS 1.3.
// Pure functions over OpenSSL's HKDF, HMAC and base64; nothing here logs, and keys live in SecretBytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nvmf::nvme::tls {

/// Key bytes wiped when destroyed (OPENSSL_cleanse).
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : bytes_(n) {}
  SecretBytes(const std::uint8_t* p, std::size_t n) : bytes_(p, p + n) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes(SecretBytes&&) = default;
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();
  std::uint8_t* data() { return bytes_.data(); }
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  bool operator==(const SecretBytes& other) const;

 private:
  std::vector<std::uint8_t> bytes_;
};

/// Hash of a PSK: in the interchange format the retained-PSK transform (0 none, 1 SHA-256, 2 SHA-384), in an
/// identity the cipher suite's hash (1 TLS_AES_128_GCM_SHA256, 2 TLS_AES_256_GCM_SHA384).
enum : std::uint8_t { kHashNone = 0, kHashSha256 = 1, kHashSha384 = 2 };

/// A configured PSK as `NVMeTLSkey-1:HH:<base64(key || CRC-32(key) little endian)>:` carries it.
struct ConfiguredPsk {
  std::uint8_t hmac = kHashNone;  ///< HH
  SecretBytes key;                ///< 32 or 48 bytes (48 only with HH 00 or 02)
};

/// Parse the interchange format. The error names what is wrong, never the key.
std::optional<ConfiguredPsk> parse_interchange(std::string_view text, std::string* error);
std::string format_interchange(const ConfiguredPsk& psk);
/// CRC-32 (IEEE 802.3, as zlib's crc32) the interchange format appends.
std::uint32_t crc32_ieee(const std::uint8_t* data, std::size_t len);

/// How the HkdfLabel is laid out. rfc8446: uint16 length, label and context each with a one-byte length prefix
/// (RFC 8446 7.1; libnvme 1.16 and later). libnvme_1_15: the length little endian and no length bytes before
/// label and context, as libnvme up to 1.15 encoded them; keys from such tools derive to different bytes.
enum class LabelEncoding { rfc8446, libnvme_1_15 };

/// HKDF-Expand-Label(HKDF-Extract(0, ikm), "tls13 " + label, context, length) with SHA-256 or SHA-384.
SecretBytes hkdf_expand_label(std::uint8_t hash, const SecretBytes& ikm, std::string_view label,
                              std::string_view context, std::size_t length,
                              LabelEncoding encoding = LabelEncoding::rfc8446);

/// Retained PSK (3.6.1.3): HKDF-Expand-Label(PRK, "HostNQN", NQNh, L(configured)); HH 00 keeps the key as is.
SecretBytes retained_psk(const ConfiguredPsk& configured, std::string_view hostnqn,
                         LabelEncoding encoding = LabelEncoding::rfc8446);
/// Cipher-suite hash of a configured PSK: its HH, or from its length when HH is 00.
std::uint8_t cipher_hash(const ConfiguredPsk& configured);

/// Base64 of HMAC(retained, NQNh || " " || NQNs || " " || "NVMe-over-Fabrics"): the version-1 identity's digest.
std::string identity_digest(std::uint8_t hash, const SecretBytes& retained, std::string_view hostnqn,
                            std::string_view subnqn);

/// "NVMe0RHH NQNh NQNs" (version 0) or "NVMe1RHH NQNh NQNs DIGEST" (version 1).
struct PskIdentity {
  int version = 0;
  std::uint8_t hash = kHashSha256;
  std::string hostnqn;
  std::string subnqn;
  std::string digest;  ///< Version 1 only
  std::string to_string() const;
};
std::optional<PskIdentity> parse_identity(std::string_view text);

/// What TLS 1.3 gets: the identity the host offers and the PSK bound to it.
struct TlsPsk {
  std::string identity;
  std::uint8_t hash = kHashSha256;  ///< 1: TLS_AES_128_GCM_SHA256, 2: TLS_AES_256_GCM_SHA384
  SecretBytes key;
};
/// TLS PSK = HKDF-Expand-Label(HKDF-Extract(0, retained), "nvme-tls-psk", context, L) with context the identity
/// (version 0) or "HH DIGEST" (version 1).
TlsPsk derive_tls_psk(const ConfiguredPsk& configured, std::string_view hostnqn, std::string_view subnqn,
                      int version, LabelEncoding encoding = LabelEncoding::rfc8446);

/// Controller side: the TLS PSK for an identity a host offered, given that host's configured PSK. The identity's
/// hash must be the key's, and a version-1 identity's digest must be the key's. nullopt with *why otherwise.
std::optional<TlsPsk> psk_for_identity(const PskIdentity& identity, const ConfiguredPsk& configured,
                                       std::string* why);

/// Fresh random configured PSK (RAND_bytes) of the hash's length (00: 32 bytes unless `length` says 48).
ConfiguredPsk generate_psk(std::uint8_t hmac, std::size_t length = 0);

}  // namespace nvmf::nvme::tls
