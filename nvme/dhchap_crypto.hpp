// DH-HMAC-CHAP cryptography (NVMe Base 2.0, 8.13.5), shared by the target and the host. Everything comes from
// OpenSSL 3: HMAC through EVP_MAC, digests through EVP_Digest, the FFDHE groups of RFC 7919 through EVP_PKEY
// "DHX" keys with the named group, the shared secret derived with padding to the group size.
//
//   transformed key   Kt = HMAC_H(K, NQN || "NVMe-over-Fabrics"), H the key's own hash (DHHC-1:HH), or K itself
//   augmented chall.  Ca = HMAC_H(H(g^xy mod p), C), H the negotiated hash; C itself with the null group
//   host response    R1 = HMAC_H(Kt_host, Ca1 || le32 S1 || le16 T_ID || SC_C || "HostHost" || hostnqn || 00h
//                          || subnqn)
//   ctrl response    R2 = HMAC_H(Kt_ctrl, Ca2 || le32 S2 || le16 T_ID || SC_C || "Controller" || subnqn || 00h
//                          || hostnqn)
// (the same formulas as the Linux kernel's drivers/nvme/common/auth.c and SPDK's nvme_auth.c).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <span>
#include <string>
#include <vector>

namespace nvmf::nvme::dhchap {

using Bytes = std::vector<std::uint8_t>;

/// Hash function identifiers (HashID) of DH-HMAC-CHAP.
enum class Hash : std::uint8_t { sha256 = 1, sha384 = 2, sha512 = 3 };
/// DH group identifiers (DHGID): 0 null, 1..5 ffdhe2048..ffdhe8192.
enum class DhGroup : std::uint8_t { null = 0, ffdhe2048 = 1, ffdhe3072 = 2, ffdhe4096 = 3, ffdhe6144 = 4, ffdhe8192 = 5 };

std::optional<Hash> hash_from_id(std::uint8_t id);
std::optional<DhGroup> dhgroup_from_id(std::uint8_t id);
/// "sha256" / "hmac(sha256)" / "sha-256" ... and "null" / "ffdhe2048": the spellings nvmet and nvme-cli use.
std::optional<Hash> hash_from_name(const std::string& name);
std::optional<DhGroup> dhgroup_from_name(const std::string& name);
const char* hash_name(Hash hash);            ///< "sha256"
const char* hmac_name(Hash hash);            ///< "hmac(sha256)", as nvmet's dhchap_hash attribute
const char* dhgroup_name(DhGroup group);     ///< "null", "ffdhe2048"
std::size_t hash_length(Hash hash);          ///< 32, 48, 64
std::size_t dh_value_length(DhGroup group);  ///< Bytes of a public value: 0 for null, 256 .. 1024

/// Every hash and group, strongest first (the order a controller prefers among what the host offers).
const std::vector<Hash>& all_hashes();
const std::vector<DhGroup>& all_dhgroups();

/// Raised by the functions below when OpenSSL fails or an input is unusable; what() never holds key material.
class CryptoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Bytes digest(Hash hash, std::span<const std::uint8_t> data);
Bytes hmac(Hash hash, std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);
/// Cryptographically random bytes (RAND_bytes).
Bytes random_bytes(std::size_t n);

/// The key transformation: `key_hash` empty (HH 00) returns the key unchanged.
Bytes transform_key(std::optional<Hash> key_hash, std::span<const std::uint8_t> key, const std::string& nqn);
/// Ca from the challenge and the DH shared secret; an empty secret (null group) returns the challenge.
Bytes augmented_challenge(Hash hash, std::span<const std::uint8_t> challenge,
                          std::span<const std::uint8_t> session_key);

/// The inputs of one response: which side answers decides the role string and the NQN order.
struct ResponseInput {
  Hash hash;
  std::span<const std::uint8_t> transformed_key;
  std::span<const std::uint8_t> challenge;    ///< C1 (host response) or C2 (controller response)
  std::span<const std::uint8_t> session_key;  ///< g^xy mod p, empty for the null group
  std::uint32_t seqnum;
  std::uint16_t t_id;
  std::uint8_t sc_c = 0;
};
/// R1: the host's answer to the controller's challenge.
Bytes host_response(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn);
/// R2: the controller's answer to the host's challenge.
Bytes controller_response(const ResponseInput& in, const std::string& subnqn, const std::string& hostnqn);
/// Constant-time comparison of two responses.
bool responses_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

/// An ephemeral FFDHE key pair of one group.
class DhKey {
 public:
  /// Generates a fresh pair (EVP_PKEY_generate with the named group).
  explicit DhKey(DhGroup group);
  /// Loads a fixed private value (known-answer tests only).
  DhKey(DhGroup group, std::span<const std::uint8_t> private_value);
  ~DhKey();
  DhKey(const DhKey&) = delete;
  DhKey& operator=(const DhKey&) = delete;

  DhGroup group() const { return group_; }
  /// g^x mod p, big-endian, padded to the group size.
  Bytes public_value() const;
  /// g^xy mod p from the peer's public value, padded to the group size. Throws CryptoError on a value outside
  /// the group (OpenSSL's public key check), which the caller answers with a DH group failure.
  Bytes shared_secret(std::span<const std::uint8_t> peer_public) const;

 private:
  DhGroup group_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nvmf::nvme::dhchap
