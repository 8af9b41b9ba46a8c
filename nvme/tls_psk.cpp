#include "nvme/tls_psk.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace nvmf::nvme::tls {

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_ = other.bytes_;
  }
  return *this;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_ = std::move(other.bytes_);
  }
  return *this;
}

SecretBytes::~SecretBytes() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

bool SecretBytes::operator==(const SecretBytes& other) const {
  return size() == other.size() && CRYPTO_memcmp(data(), other.data(), size()) == 0;
}

namespace {

const char* digest_name(std::uint8_t hash) {
  switch (hash) {
    case kHashSha256: return "SHA256";
    case kHashSha384: return "SHA384";
    default: throw std::invalid_argument("TLS PSK: hash must be 01 (SHA-256) or 02 (SHA-384)");
  }
}

std::string base64(const std::uint8_t* data, std::size_t len) {
  std::string out(4 * ((len + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(len));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// Strict base64 decode (length a multiple of 4, padding only at the end).
std::optional<SecretBytes> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  SecretBytes out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  SecretBytes trimmed(out.data(), static_cast<std::size_t>(n) - pad);
  return trimmed;
}

}  // namespace

std::uint32_t crc32_ieee(const std::uint8_t* data, std::size_t len) {
  std::uint32_t crc = 0xffffffffu;
  for (std::size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::optional<ConfiguredPsk> parse_interchange(std::string_view text, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<ConfiguredPsk> {
    if (error) *error = why;
    return std::nullopt;
  };
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  constexpr std::string_view prefix = "NVMeTLSkey-1:";
  if (text.substr(0, prefix.size()) != prefix) return fail("not a TLS PSK in interchange format (NVMeTLSkey-1:HH:...:)");
  text.remove_prefix(prefix.size());
  if (text.size() < 4 || text[2] != ':') return fail("TLS PSK: hash field must be two digits (00, 01 or 02)");
  ConfiguredPsk psk;
  if (text.substr(0, 2) == "00") psk.hmac = kHashNone;
  else if (text.substr(0, 2) == "01") psk.hmac = kHashSha256;
  else if (text.substr(0, 2) == "02") psk.hmac = kHashSha384;
  else return fail("TLS PSK: unsupported hash (00, 01 or 02)");
  text.remove_prefix(3);
  if (text.empty() || text.back() != ':') return fail("TLS PSK: missing the closing ':'");
  text.remove_suffix(1);
  auto raw = unbase64(text);
  if (!raw) return fail("TLS PSK: key is not valid base64");
  if (raw->size() != 36 && raw->size() != 52) return fail("TLS PSK: key must be 32 or 48 bytes (plus CRC-32)");
  const std::size_t key_len = raw->size() - 4;
  if ((psk.hmac == kHashSha256 && key_len != 32) || (psk.hmac == kHashSha384 && key_len != 48))
    return fail("TLS PSK: key length does not match its hash (01: 32 bytes, 02: 48 bytes)");
  const std::uint8_t* p = raw->data();
  const std::uint32_t crc = p[key_len] | (p[key_len + 1] << 8) | (p[key_len + 2] << 16) |
                            (std::uint32_t(p[key_len + 3]) << 24);
  if (crc != crc32_ieee(p, key_len)) return fail("TLS PSK: CRC-32 does not match (key mistyped or truncated?)");
  psk.key = SecretBytes(p, key_len);
  return psk;
}

std::string format_interchange(const ConfiguredPsk& psk) {
  const std::size_t n = psk.key.size();
  if (n != 32 && n != 48) throw std::invalid_argument("TLS PSK: key must be 32 or 48 bytes");
  if ((psk.hmac == kHashSha256 && n != 32) || (psk.hmac == kHashSha384 && n != 48) || psk.hmac > kHashSha384)
    throw std::invalid_argument("TLS PSK: key length does not match its hash");
  SecretBytes raw(n + 4);
  std::copy(psk.key.data(), psk.key.data() + n, raw.data());
  const std::uint32_t crc = crc32_ieee(psk.key.data(), n);
  for (int i = 0; i < 4; ++i) raw.data()[n + i] = static_cast<std::uint8_t>(crc >> (8 * i));
  char head[20];
  std::snprintf(head, sizeof head, "NVMeTLSkey-1:%02x:", psk.hmac);
  return head + base64(raw.data(), raw.size()) + ":";
}

SecretBytes hkdf_expand_label(std::uint8_t hash, const SecretBytes& ikm, std::string_view label,
                              std::string_view context, std::size_t length, LabelEncoding encoding) {
  const std::string full_label = "tls13 " + std::string(label);
  if (full_label.size() > 255 || context.size() > 255 || length > 0xffff)
    throw std::invalid_argument("HKDF-Expand-Label: label, context or length too long");
  // HkdfLabel (RFC 8446 7.1): uint16 length; opaque label<7..255>; opaque context<0..255>.
  // libnvme <= 1.15 wrote the length little endian and label and context without their length bytes.
  std::string info;
  const bool rfc = encoding == LabelEncoding::rfc8446;
  info.push_back(static_cast<char>(rfc ? length >> 8 : length & 0xff));
  info.push_back(static_cast<char>(rfc ? length & 0xff : length >> 8));
  if (rfc) info.push_back(static_cast<char>(full_label.size()));
  info += full_label;
  if (rfc) info.push_back(static_cast<char>(context.size()));
  info += context;

  std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
  if (!kdf) throw std::runtime_error("OpenSSL has no HKDF");
  std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()), EVP_KDF_CTX_free);
  if (!ctx) throw std::runtime_error("HKDF context");
  char digest[16];
  std::snprintf(digest, sizeof digest, "%s", digest_name(hash));
  int mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(ikm.data()), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) throw std::runtime_error("HKDF failed");
  OPENSSL_cleanse(info.data(), info.size());
  return out;
}

SecretBytes retained_psk(const ConfiguredPsk& configured, std::string_view hostnqn, LabelEncoding encoding) {
  if (configured.hmac == kHashNone) return configured.key;
  return hkdf_expand_label(configured.hmac, configured.key, "HostNQN", hostnqn, configured.key.size(), encoding);
}

std::uint8_t cipher_hash(const ConfiguredPsk& configured) {
  if (configured.hmac != kHashNone) return configured.hmac;
  return configured.key.size() == 48 ? kHashSha384 : kHashSha256;
}

std::string identity_digest(std::uint8_t hash, const SecretBytes& retained, std::string_view hostnqn,
                            std::string_view subnqn) {
  std::string message = std::string(hostnqn) + " " + std::string(subnqn) + " NVMe-over-Fabrics";
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, digest_name(hash), nullptr, retained.data(), retained.size(),
                 reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, sizeof mac, &mac_len))
    throw std::runtime_error("HMAC failed");
  std::string out = base64(mac, mac_len);
  OPENSSL_cleanse(mac, sizeof mac);
  return out;
}

std::string PskIdentity::to_string() const {
  char head[32];
  std::snprintf(head, sizeof head, "NVMe%dR%02u ", version, hash);
  std::string s = head + hostnqn + " " + subnqn;
  if (version == 1) s += " " + digest;
  return s;
}

std::optional<PskIdentity> parse_identity(std::string_view text) {
  // "NVMe" version 'R' (retained; 'G' generated PSKs come from DH-HMAC-CHAP, not configured keys) hash.
  if (text.size() < 9 || text.substr(0, 4) != "NVMe" || text[5] != 'R' || text[8] != ' ') return std::nullopt;
  PskIdentity id;
  if (text[4] != '0' && text[4] != '1') return std::nullopt;
  id.version = text[4] - '0';
  if (text.substr(6, 2) == "01") id.hash = kHashSha256;
  else if (text.substr(6, 2) == "02") id.hash = kHashSha384;
  else return std::nullopt;
  text.remove_prefix(9);
  auto next = [&](std::string& field) {
    auto sp = text.find(' ');
    field = std::string(text.substr(0, sp));
    text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
    return !field.empty();
  };
  if (!next(id.hostnqn) || !next(id.subnqn)) return std::nullopt;
  if (id.version == 1) {
    if (!next(id.digest)) return std::nullopt;
  }
  if (!text.empty()) return std::nullopt;
  return id;
}

TlsPsk derive_tls_psk(const ConfiguredPsk& configured, std::string_view hostnqn, std::string_view subnqn,
                      int version, LabelEncoding encoding) {
  if (version != 0 && version != 1) throw std::invalid_argument("TLS PSK identity version must be 0 or 1");
  const SecretBytes retained = retained_psk(configured, hostnqn, encoding);
  PskIdentity id;
  id.version = version;
  id.hash = cipher_hash(configured);
  id.hostnqn = std::string(hostnqn);
  id.subnqn = std::string(subnqn);
  std::string context;
  if (version == 1) {
    id.digest = identity_digest(id.hash, retained, hostnqn, subnqn);
    char hh[8];
    std::snprintf(hh, sizeof hh, "%02u ", id.hash);
    context = hh + id.digest;
  }
  TlsPsk out;
  out.identity = id.to_string();
  if (version == 0) context = out.identity;
  out.hash = id.hash;
  out.key = hkdf_expand_label(id.hash, retained, "nvme-tls-psk", context, configured.key.size(), encoding);
  return out;
}

std::optional<TlsPsk> psk_for_identity(const PskIdentity& identity, const ConfiguredPsk& configured,
                                       std::string* why) {
  // Whatever a host offers must end in a refusal, not an exception inside OpenSSL's callback: NQNs are at most
  // 223 bytes (NVMe Base 4.5), and a version-0 identity is the HKDF context, at most 255 bytes (RFC 8446 7.1).
  constexpr std::size_t kMaxNqn = 223;
  if (identity.hostnqn.size() > kMaxNqn || identity.subnqn.size() > kMaxNqn ||
      (identity.version == 0 && identity.to_string().size() > 255)) {
    if (why) *why = "identity too long (an NQN over 223 bytes, or a version-0 identity over 255)";
    return std::nullopt;
  }
  if (identity.hash != cipher_hash(configured)) {
    if (why) *why = identity.hash == kHashSha384 ? "identity asks for SHA-384 but the host's PSK is a SHA-256 key"
                                                 : "identity asks for SHA-256 but the host's PSK is a SHA-384 key";
    return std::nullopt;
  }
  TlsPsk psk = derive_tls_psk(configured, identity.hostnqn, identity.subnqn, identity.version);
  if (identity.version == 1) {
    const std::string expected = psk.identity;
    const std::string offered = identity.to_string();
    if (expected.size() != offered.size() || CRYPTO_memcmp(expected.data(), offered.data(), expected.size()) != 0) {
      if (why) *why = "identity digest does not match the host's PSK";
      return std::nullopt;
    }
  }
  return psk;
}

ConfiguredPsk generate_psk(std::uint8_t hmac, std::size_t length) {
  ConfiguredPsk psk;
  psk.hmac = hmac;
  std::size_t n = hmac == kHashSha384 ? 48 : hmac == kHashSha256 ? 32 : (length ? length : 32);
  if (n != 32 && n != 48) throw std::invalid_argument("TLS PSK: key length must be 32 or 48");
  psk.key = SecretBytes(n);
  if (RAND_bytes(psk.key.data(), static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
  return psk;
}

}  // namespace nvmf::nvme::tls
