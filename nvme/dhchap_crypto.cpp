#include "nvme/dhchap_crypto.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace nvmf::nvme::dhchap {

namespace {
struct HashInfo {
  Hash hash;
  const char* name;
  const char* hmac;
  std::size_t length;
};
constexpr HashInfo kHashes[] = {
    {Hash::sha256, "sha256", "hmac(sha256)", 32},
    {Hash::sha384, "sha384", "hmac(sha384)", 48},
    {Hash::sha512, "sha512", "hmac(sha512)", 64},
};
struct GroupInfo {
  DhGroup group;
  const char* name;
  std::size_t length;
};
constexpr GroupInfo kGroups[] = {
    {DhGroup::null, "null", 0},           {DhGroup::ffdhe2048, "ffdhe2048", 256},
    {DhGroup::ffdhe3072, "ffdhe3072", 384}, {DhGroup::ffdhe4096, "ffdhe4096", 512},
    {DhGroup::ffdhe6144, "ffdhe6144", 768}, {DhGroup::ffdhe8192, "ffdhe8192", 1024},
};

const HashInfo& info(Hash h) { return kHashes[static_cast<int>(h) - 1]; }
const GroupInfo& info(DhGroup g) { return kGroups[static_cast<int>(g)]; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC, EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;

/// An HMAC being computed piece by piece.
class Hmac {
 public:
  Hmac(Hash hash, std::span<const std::uint8_t> key) : hash_(hash) {
    mac_.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac_) throw CryptoError("HMAC is not available from OpenSSL");
    ctx_.reset(EVP_MAC_CTX_new(mac_.get()));
    if (!ctx_) throw CryptoError("out of memory for an HMAC context");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(info(hash).name), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx_.get(), key.data(), key.size(), params) != 1)
      throw CryptoError(std::string("HMAC-") + info(hash).name + " setup failed");
  }
  Hmac& update(std::span<const std::uint8_t> data) {
    if (!data.empty() && EVP_MAC_update(ctx_.get(), data.data(), data.size()) != 1)
      throw CryptoError("HMAC update failed");
    return *this;
  }
  Hmac& update(const std::string& text) {
    return update(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  }
  Hmac& update_byte(std::uint8_t b) { return update(std::span(&b, 1)); }
  Bytes final() {
    Bytes out(info(hash_).length);
    std::size_t len = 0;
    if (EVP_MAC_final(ctx_.get(), out.data(), &len, out.size()) != 1 || len != out.size())
      throw CryptoError("HMAC final failed");
    return out;
  }

 private:
  Hash hash_;
  MacPtr mac_;
  MacCtxPtr ctx_;
};

Bytes response(const ResponseInput& in, const char* role, const std::string& nqn1, const std::string& nqn2) {
  const Bytes ca = augmented_challenge(in.hash, in.challenge, in.session_key);
  std::uint8_t seq[4], tid[2];
  for (int i = 0; i < 4; ++i) seq[i] = static_cast<std::uint8_t>(in.seqnum >> (8 * i));
  for (int i = 0; i < 2; ++i) tid[i] = static_cast<std::uint8_t>(in.t_id >> (8 * i));
  return Hmac(in.hash, in.transformed_key)
      .update(ca)
      .update(seq)
      .update(tid)
      .update_byte(in.sc_c)
      .update(std::string(role))
      .update(nqn1)
      .update_byte(0)
      .update(nqn2)
      .final();
}

BnPtr to_bn(std::span<const std::uint8_t> bytes) {
  BnPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) throw CryptoError("out of memory for a big number");
  return bn;
}

Bytes padded(const BIGNUM* bn, std::size_t length) {
  Bytes out(length);
  if (BN_bn2binpad(bn, out.data(), static_cast<int>(length)) < 0) throw CryptoError("DH value too large");
  return out;
}

PkeyPtr pkey_from(DhGroup group, const BIGNUM* pub, const BIGNUM* priv) {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info(group).name, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub) != 1 ||
      (priv && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1))
    throw CryptoError("out of memory for DH parameters");
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    throw CryptoError(std::string("DH value not usable in ") + info(group).name);
  return PkeyPtr(key);
}

BnPtr bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw CryptoError(std::string("DH key has no ") + name);
  return BnPtr(bn);
}
}  // namespace

std::optional<Hash> hash_from_id(std::uint8_t id) {
  if (id < 1 || id > 3) return std::nullopt;
  return static_cast<Hash>(id);
}
std::optional<DhGroup> dhgroup_from_id(std::uint8_t id) {
  if (id > 5) return std::nullopt;
  return static_cast<DhGroup>(id);
}
std::optional<Hash> hash_from_name(const std::string& name) {
  const std::string n = lower(name);
  for (const auto& h : kHashes) {
    const std::string dashed = std::string("sha-") + (h.name + 3);
    if (n == h.name || n == h.hmac || n == dashed) return h.hash;
  }
  return std::nullopt;
}
std::optional<DhGroup> dhgroup_from_name(const std::string& name) {
  const std::string n = lower(name);
  for (const auto& g : kGroups)
    if (n == g.name) return g.group;
  return std::nullopt;
}
const char* hash_name(Hash hash) { return info(hash).name; }
const char* hmac_name(Hash hash) { return info(hash).hmac; }
const char* dhgroup_name(DhGroup group) { return info(group).name; }
std::size_t hash_length(Hash hash) { return info(hash).length; }
std::size_t dh_value_length(DhGroup group) { return info(group).length; }

const std::vector<Hash>& all_hashes() {
  static const std::vector<Hash> v{Hash::sha512, Hash::sha384, Hash::sha256};
  return v;
}
const std::vector<DhGroup>& all_dhgroups() {
  static const std::vector<DhGroup> v{DhGroup::ffdhe8192, DhGroup::ffdhe6144, DhGroup::ffdhe4096,
                                      DhGroup::ffdhe3072, DhGroup::ffdhe2048, DhGroup::null};
  return v;
}

Bytes digest(Hash hash, std::span<const std::uint8_t> data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_get_digestbyname(info(hash).name), nullptr) != 1)
    throw CryptoError(std::string("digest ") + info(hash).name + " failed");
  out.resize(len);
  return out;
}

Bytes hmac(Hash hash, std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  return Hmac(hash, key).update(data).final();
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (n && RAND_bytes(out.data(), static_cast<int>(n)) != 1) throw CryptoError("no random bytes from OpenSSL");
  return out;
}

Bytes transform_key(std::optional<Hash> key_hash, std::span<const std::uint8_t> key, const std::string& nqn) {
  if (!key_hash) return Bytes(key.begin(), key.end());
  return Hmac(*key_hash, key).update(nqn).update(std::string("NVMe-over-Fabrics")).final();
}

Bytes augmented_challenge(Hash hash, std::span<const std::uint8_t> challenge,
                          std::span<const std::uint8_t> session_key) {
  if (session_key.empty()) return Bytes(challenge.begin(), challenge.end());
  const Bytes hashed_key = digest(hash, session_key);
  return hmac(hash, hashed_key, challenge);
}

Bytes host_response(const ResponseInput& in, const std::string& hostnqn, const std::string& subnqn) {
  return response(in, "HostHost", hostnqn, subnqn);
}

Bytes controller_response(const ResponseInput& in, const std::string& subnqn, const std::string& hostnqn) {
  return response(in, "Controller", subnqn, hostnqn);
}

bool responses_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct DhKey::Impl {
  PkeyPtr key;
};

DhKey::DhKey(DhGroup group) : group_(group), impl_(std::make_unique<Impl>()) {
  if (group == DhGroup::null) throw CryptoError("the null DH group has no key");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(info(group).name), 0),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_params(ctx.get(), params) != 1 ||
      EVP_PKEY_generate(ctx.get(), &key) != 1)
    throw CryptoError(std::string("DH key generation in ") + info(group).name + " failed");
  impl_->key.reset(key);
}

DhKey::DhKey(DhGroup group, std::span<const std::uint8_t> private_value)
    : group_(group), impl_(std::make_unique<Impl>()) {
  if (group == DhGroup::null) throw CryptoError("the null DH group has no key");
  // p and g come from a generated key of the group; the public value is g^x mod p (BN_mod_exp).
  DhKey reference(group);
  BnPtr p = bn_param(reference.impl_->key.get(), OSSL_PKEY_PARAM_FFC_P);
  BnPtr g = bn_param(reference.impl_->key.get(), OSSL_PKEY_PARAM_FFC_G);
  BnPtr x = to_bn(private_value);
  BnPtr pub(BN_new());
  BnCtxPtr bnctx(BN_CTX_new());
  if (!pub || !bnctx || BN_mod_exp(pub.get(), g.get(), x.get(), p.get(), bnctx.get()) != 1)
    throw CryptoError("DH public value computation failed");
  impl_->key = pkey_from(group, pub.get(), x.get());
}

DhKey::~DhKey() = default;

Bytes DhKey::public_value() const {
  BnPtr pub = bn_param(impl_->key.get(), OSSL_PKEY_PARAM_PUB_KEY);
  return padded(pub.get(), dh_value_length(group_));
}

Bytes DhKey::shared_secret(std::span<const std::uint8_t> peer_public) const {
  if (peer_public.size() != dh_value_length(group_))
    throw CryptoError(std::string("DH value of ") + std::to_string(peer_public.size()) + " bytes in " +
                      info(group_).name);
  BnPtr pub = to_bn(peer_public);
  PkeyPtr peer = pkey_from(group_, pub.get(), nullptr);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(impl_->key.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) <= 0)
    throw CryptoError("DH derivation setup failed");
  // The peer's value is checked against the group (1 < y < p-1, subgroup) before use.
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), 1) != 1)
    throw CryptoError(std::string("DH value not valid in ") + info(group_).name);
  std::size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) throw CryptoError("DH derivation failed");
  Bytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1) throw CryptoError("DH derivation failed");
  out.resize(len);
  return out;
}

}  // namespace nvmf::nvme::dhchap
