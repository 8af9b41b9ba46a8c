#include "nvme/dhchap_secret.hpp"

#include <isa-l/crc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdio>

namespace nvmf::nvme::dhchap {

namespace {
constexpr const char* kPrefix = "DHHC-1:";

bool valid_length(std::size_t n) { return n == 32 || n == 48 || n == 64; }

/// Clears a buffer that held key material before it is freed.
struct Scrub {
  std::string& s;
  ~Scrub() { OPENSSL_cleanse(s.data(), s.size()); }
};
}  // namespace

std::uint32_t secret_crc(const Bytes& key) { return crc32_gzip_refl(0, key.data(), key.size()); }

Secret parse_secret(const std::string& text) {
  if (text.rfind(kPrefix, 0) != 0) throw SecretError("not a DH-HMAC-CHAP secret (no 'DHHC-1:' prefix)");
  // "DHHC-1:" HH ":" base64 ":"
  if (text.size() < 11 || text[9] != ':' || text.back() != ':')
    throw SecretError("malformed DH-HMAC-CHAP secret (expected DHHC-1:HH:<base64>:)");
  const std::string hh = text.substr(7, 2);
  if (hh != "00" && hh != "01" && hh != "02" && hh != "03")
    throw SecretError("unknown key transformation '" + hh + "' (00, 01, 02 or 03)");
  std::string b64 = text.substr(10, text.size() - 11);
  Scrub scrub_b64{b64};
  if (b64.empty() || b64.size() % 4 != 0) throw SecretError("malformed base64 in DH-HMAC-CHAP secret");
  std::string raw(b64.size() / 4 * 3, '\0');
  Scrub scrub_raw{raw};
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0) throw SecretError("malformed base64 in DH-HMAC-CHAP secret");
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) --len;  // DecodeBlock keeps padding bytes
  if (len < 4 || !valid_length(len - 4))
    throw SecretError("DH-HMAC-CHAP key of " + std::to_string(len >= 4 ? len - 4 : 0) +
                      " bytes (32, 48 or 64 with a 4-byte CRC)");
  Secret s;
  s.key.assign(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(len - 4));
  std::uint32_t crc = 0;
  for (int i = 0; i < 4; ++i) crc |= std::uint32_t(static_cast<std::uint8_t>(raw[len - 4 + i])) << (8 * i);
  if (crc != secret_crc(s.key)) {
    OPENSSL_cleanse(s.key.data(), s.key.size());
    throw SecretError("DH-HMAC-CHAP secret fails its CRC-32 check");
  }
  const int id = hh[1] - '0';
  if (id != 0) s.key_hash = static_cast<Hash>(id);
  return s;
}

bool check_secret(const std::string& text, std::string* why) {
  try {
    Secret s = parse_secret(text);
    OPENSSL_cleanse(s.key.data(), s.key.size());
    return true;
  } catch (const SecretError& e) {
    if (why) *why = e.what();
    return false;
  }
}

std::string format_secret(const Secret& secret) {
  Bytes raw = secret.key;
  const std::uint32_t crc = secret_crc(secret.key);
  for (int i = 0; i < 4; ++i) raw.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  std::string b64(4 * ((raw.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), raw.data(), static_cast<int>(raw.size()));
  OPENSSL_cleanse(raw.data(), raw.size());
  b64.resize(static_cast<std::size_t>(n));
  char hh[3];
  std::snprintf(hh, sizeof hh, "%02x", secret.key_hash ? static_cast<unsigned>(*secret.key_hash) : 0u);
  return std::string(kPrefix) + hh + ":" + b64 + ":";
}

Secret generate_secret(std::size_t length, std::optional<Hash> hash, const std::string& nqn,
                       const std::optional<Bytes>& seed) {
  if (!valid_length(length)) throw SecretError("key length " + std::to_string(length) + " (32, 48 or 64)");
  if (seed && seed->size() != length)
    throw SecretError("secret of " + std::to_string(seed->size()) + " bytes for a key of " + std::to_string(length));
  if (hash && hash_length(*hash) != length)
    throw SecretError(std::string("key length ") + std::to_string(length) + " does not match " + hash_name(*hash) +
                      " (" + std::to_string(hash_length(*hash)) + " bytes)");
  if (hash && nqn.empty()) throw SecretError("a transformed key needs an NQN");
  const Bytes base = seed ? *seed : random_bytes(length);
  Secret s;
  s.key_hash = hash;
  s.key = transform_key(hash, base, nqn);
  return s;
}

}  // namespace nvmf::nvme::dhchap
