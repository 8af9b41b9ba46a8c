// DH-HMAC-CHAP secrets in the representation of NVMe Base 2.0, 8.13.5.8 (what nvme-cli, nvmet and SPDK read):
// "DHHC-1:HH:<base64 of key || CRC-32 of key, little-endian>:". HH 00: the key is used as is; 01/02/03: it is
// transformed with the NQN of its owner through HMAC-SHA-256/384/512 first. Keys are 32, 48 or 64 bytes.
// Errors name the problem, never the key.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "nvme/dhchap_crypto.hpp"

namespace nvmf::nvme::dhchap {

struct Secret {
  std::optional<Hash> key_hash;  ///< HH: none (00) or the transformation's hash
  Bytes key;

  /// The key to use in responses for the given owner NQN (host NQN for the host key, subsystem NQN for the
  /// controller key).
  Bytes transformed(const std::string& nqn) const { return transform_key(key_hash, key, nqn); }
};

class SecretError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Parses "DHHC-1:HH:...:"; throws SecretError with the reason (bad prefix, HH, base64, length, CRC).
Secret parse_secret(const std::string& text);
/// True when `text` parses; `why` gets the reason otherwise.
bool check_secret(const std::string& text, std::string* why = nullptr);
/// The textual representation of a secret.
std::string format_secret(const Secret& secret);
/// CRC-32 (IEEE 802.3, as zlib) of the key, the checksum the representation carries.
std::uint32_t secret_crc(const Bytes& key);

/// nvme-cli's gen-dhchap-key: a key of `length` bytes (32, 48, 64), random unless `seed` is given; with a
/// transformation hash the stored key is the seed transformed with `nqn` (nvme-cli does the same), and must
/// then be as long as the hash. Throws SecretError on bad parameters.
Secret generate_secret(std::size_t length, std::optional<Hash> hash, const std::string& nqn,
                       const std::optional<Bytes>& seed = std::nullopt);

}  // namespace nvmf::nvme::dhchap
