// Known answers for DH-HMAC-CHAP: secret representation, key transformation, augmented challenge, host and
// controller responses with the null group and ffdhe2048. The expected values come from
// tests/nvme/dhchap_vectors.py, an independent implementation of the spec's formulas on Python's hashlib and
// hmac (its FFDHE prime from RFC 7919's formula); rerun it to regenerate the table below.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "nvme/dhchap_crypto.hpp"
#include "nvme/dhchap_secret.hpp"

namespace nvmf::nvme::dhchap {
namespace {

const std::map<std::string, std::string> kVectors = {
  {"secret_host_01",
   "DHHC-1:01:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:"},
  {"secret_ctrl_00",
   "DHHC-1:00:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9YjiZe:"},
  {"transform_sha256_key",
   "0104070a0d101316191c1f2225282b2e3134373a3d404346494c4f5255585b5e"},
  {"transform_sha256",
   "c608bccd96e55915edf43e2a2cba8926813a68061c64e2c687bf3c5eaba91a1a"},
  {"transform_sha384_key",
   "0205080b0e1114171a1d202326292c2f3235383b3e4144474a4d505356595c5f6265686b6e7174777a7d808386898c8f"},
  {"transform_sha384",
   "a54f3424845259325589ab06e2d7733bad10b22f8b76cff3654c0af9f6acb505c6907d511d063034c020eedd10470540"},
  {"transform_sha512_key",
   "0306090c0f1215181b1e2124272a2d303336393c3f4245484b4e5154575a5d606366696c6f7275787b7e8184878a8d909396999c9fa2a5a8abaeb1b4b7babdc0"},
  {"transform_sha512",
   "778e2dfd7d346798bea393f08987bc8fa2a8ac342cc5d6a3a23a3bbb4d464bd700523e451b06b113e5f75b9d623b3d140a37155fd71f552660971d90faba4fd4"},
  {"r1_null_sha256",
   "4e16081500dd259585bc13302ed0c16d6d5fcd63fe9ab7ebc2d42ad0b993c169"},
  {"r2_null_sha256",
   "caee62acac9d9d9ca103a15440dab7b782463c34fb9af902c768980d80febcea"},
  {"r1_null_sha384",
   "86a7d72bf8b3d6117e31bc6611f0b0baaaffa0912aaba70bbf897151de03b2d03576d7cef53eabd2a7cb4bc43924a72c"},
  {"r2_null_sha384",
   "0881f2609286bc49cd0276773eb6ea1d0e67570903183306b3b0e572ec3e6de23899d056ab199c5d4e6b757063dddbca"},
  {"r1_null_sha512",
   "a3ffb6978eafc94a8c3b89fc28cea63e3620155c208973d56139e3c01831e1c55c7d9145a9a3bc3207caf6d8cc326b170eeaf3d2e675c74e88dec723d1eaf0a0"},
  {"r2_null_sha512",
   "ba1a340a993680a53aa6073f8676e0be50d094e3e2688b886e26e9da59b3488c7aa7d202118e801fd7c76ff82399ad427eac764d223e1ab3654eaaa07085c3f4"},
  {"ffdhe2048_p_low64",
   "ffffffffffffffff"},
  {"ffdhe2048_gx",
   "0eef0c0eae9c65a3332cdc742b58561d362c0af526f8ad528b19ff39c91434312f83302ed9dc6f2b84b250482dbd80962154f8a6d683741bf8bf4f3fdee22f80541a77553d1ae7a096c521f869987ae5eca1090d93e7bdea0b4349f17fee34f4775bfb380f426dec937b25825680c6e2b8c4c9eede64b91f5cdc02ba78e75908d47cd27fda4b5188c22baf2acd1e861ed0864e9eb9346640d354eada9f7156a601387ba5f1b8609733707803a5ac866fc1bbe54b15a99934727bc5c157f893d867a89abf0ce3dd0cf3d7ce00073db8b3bbae1486faedc462f7edeb3dc44ba30336de3d4dbfb4f14f143c46b0ba93f316f50c3377b9a38a27ae048f5605a4dcbf"},
  {"ffdhe2048_gy",
   "9308b39e1e55dae7bdeb9f5c65f98705af75816c12f2d8ba2ce640784c04a660da1c94ee903d0f4da78b2ee2f3485a598f8e84b0f6fee05292c7e70d1e6ef74c4a0a308208a5d34eada3f5f7f8e420d4f7f2a048bbf96a0512c3d69206cbe1feef6c91d93a0c2d9b2e559d2e0470aca84954482d130cab177af4501eb156ac3b1af53f12a61d1743fd2e08a14394500615cbb34229ce60a8d89964525bd5d06ce384e9540640def32076bcf1009bf72132f41a5c0d1a62ae1b061a9f611cacd478a597aa55af7f391434311ed56017225d600449ea174eca2bfcadff4e489b93186b5d702ef3221f6b808cf43eb721f1c304ed55866cf7aac2b7592fdbfb370b"},
  {"ffdhe2048_shared",
   "88a2676d4cc642f9999184cf6976319a8c71c76ead569120e0c001d32493834ead57ad7fb0731670407268176649e9095ad080e480802aa661b2829f37403de4a62717d30a0bcdf3a3a01ca770c2d1ee4c1ced3ccfd6b9f24b2a40a2806c0344a1e2a9a1cc63e8f98d28c8d617151570b9494d898de0b2691dce2ac47d4fe0f363ed80b5cbb571f11bcefc87f1ddd44161cd9a983e86803310a0eec5a35790d9441db39f050244c3114137507a42677bdbe1d36a05c5880d9f3d1c9e8700bfc66cc8d6a210c827c765c31e52c08d50d73813c14de3a7906c4b638d9a9282d01990bee2ccd6107655f6bd1f3cb9e763dd9f146c9ca8903c8203120902840574ff"},
  {"augmented_sha256",
   "fb6414e68add0501ee0ca7011a721a04a8583a735c4cd2f2052a691bbb0d5616"},
  {"r1_ffdhe2048_sha256",
   "315772e85b985a565deb6490d7647bf2e25568d2aea9e23445d30a330c9f5f2f"},
};

const std::string kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555";
const std::string kSubNqn = "nqn.2024-01.io.nvmf:kat";
constexpr std::uint32_t kSeq1 = 0x01020304, kSeq2 = 0x0A0B0C0D;
constexpr std::uint16_t kTid = 0x0506;

std::string hex(const Bytes& b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}
Bytes unhex(const std::string& s) {
  Bytes b;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) b.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  return b;
}
Bytes pattern(std::size_t n, int start, int step) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(start + step * static_cast<int>(i));
  return b;
}
Bytes host_key() { return pattern(32, 0, 1); }
Bytes ctrl_key() { return pattern(32, 0x40, 1); }

TEST(DhchapSecret, ParsesTheSpecRepresentation) {
  Secret s = parse_secret(kVectors.at("secret_host_01"));
  EXPECT_EQ(s.key, host_key());
  ASSERT_TRUE(s.key_hash);
  EXPECT_EQ(*s.key_hash, Hash::sha256);
  Secret c = parse_secret(kVectors.at("secret_ctrl_00"));
  EXPECT_EQ(c.key, ctrl_key());
  EXPECT_FALSE(c.key_hash);
}

TEST(DhchapSecret, FormatsTheSpecRepresentation) {
  EXPECT_EQ(format_secret(Secret{Hash::sha256, host_key()}), kVectors.at("secret_host_01"));
  EXPECT_EQ(format_secret(Secret{std::nullopt, ctrl_key()}), kVectors.at("secret_ctrl_00"));
}

TEST(DhchapSecret, RefusesBadSecretsWithoutShowingThem) {
  std::string good = kVectors.at("secret_host_01");
  std::string bad_crc = good;
  bad_crc[12] = bad_crc[12] == 'A' ? 'B' : 'A';
  const std::vector<std::string> bad = {
      "", "DHHC-2:01:" + good.substr(10), "DHHC-1:04:" + good.substr(10), "DHHC-1:01:AAEC:", bad_crc,
      good.substr(0, good.size() - 1), "DHHC-1:00:" + std::string(44, '*') + ":",
      // 16-byte key: too short
      "DHHC-1:00:AAECAwQFBgcICQoLDA0ODw==:"};
  for (const auto& text : bad) {
    std::string why;
    EXPECT_FALSE(check_secret(text, &why)) << text;
    EXPECT_FALSE(why.empty());
    if (text.size() > 20) {
      EXPECT_EQ(why.find(text.substr(10, 10)), std::string::npos) << why;
    }
  }
}

TEST(DhchapSecret, GeneratedKeysRoundTrip) {
  for (std::size_t len : {32, 48, 64}) {
    Secret s = generate_secret(len, std::nullopt, "");
    EXPECT_EQ(s.key.size(), len);
    Secret back = parse_secret(format_secret(s));
    EXPECT_EQ(back.key, s.key);
  }
  // With a transformation the stored key is the seed transformed with the NQN (nvme-cli gen-dhchap-key).
  const Bytes seed = unhex(kVectors.at("transform_sha256_key"));
  Secret t = generate_secret(32, Hash::sha256, kHostNqn, seed);
  EXPECT_EQ(hex(t.key), kVectors.at("transform_sha256"));
  EXPECT_THROW(generate_secret(48, Hash::sha256, kHostNqn), SecretError);
  EXPECT_THROW(generate_secret(40, std::nullopt, ""), SecretError);
}

TEST(DhchapKat, KeyTransformation) {
  for (Hash h : {Hash::sha256, Hash::sha384, Hash::sha512}) {
    const std::string name = hash_name(h);
    const Bytes key = unhex(kVectors.at("transform_" + name + "_key"));
    EXPECT_EQ(hex(transform_key(h, key, kHostNqn)), kVectors.at("transform_" + name)) << name;
  }
  EXPECT_EQ(transform_key(std::nullopt, host_key(), kHostNqn), host_key());
}

TEST(DhchapKat, ResponsesWithTheNullGroup) {
  const Bytes kh = Secret{Hash::sha256, host_key()}.transformed(kHostNqn);
  const Bytes kc = Secret{std::nullopt, ctrl_key()}.transformed(kSubNqn);
  for (Hash h : {Hash::sha256, Hash::sha384, Hash::sha512}) {
    const std::string name = hash_name(h);
    const Bytes c1 = pattern(hash_length(h), 0xA0, 1), c2 = pattern(hash_length(h), 0x10, 2);
    const Bytes r1 = host_response({h, kh, c1, {}, kSeq1, kTid}, kHostNqn, kSubNqn);
    const Bytes r2 = controller_response({h, kc, c2, {}, kSeq2, kTid}, kSubNqn, kHostNqn);
    EXPECT_EQ(hex(r1), kVectors.at("r1_null_" + name)) << name;
    EXPECT_EQ(hex(r2), kVectors.at("r2_null_" + name)) << name;
    // A wrong key gives another answer.
    EXPECT_NE(hex(host_response({h, kc, c1, {}, kSeq1, kTid}, kHostNqn, kSubNqn)), kVectors.at("r1_null_" + name));
  }
}

TEST(DhchapKat, Ffdhe2048AugmentedChallengeAndResponse) {
  DhKey host(DhGroup::ffdhe2048, pattern(32, 1, 1));
  DhKey ctrl(DhGroup::ffdhe2048, pattern(32, 0x80, 1));
  EXPECT_EQ(hex(host.public_value()), kVectors.at("ffdhe2048_gx"));
  EXPECT_EQ(hex(ctrl.public_value()), kVectors.at("ffdhe2048_gy"));
  const Bytes shared = host.shared_secret(ctrl.public_value());
  EXPECT_EQ(hex(shared), kVectors.at("ffdhe2048_shared"));
  EXPECT_EQ(ctrl.shared_secret(host.public_value()), shared);
  const Bytes c1 = pattern(32, 0xA0, 1);
  EXPECT_EQ(hex(augmented_challenge(Hash::sha256, c1, shared)), kVectors.at("augmented_sha256"));
  const Bytes kh = Secret{Hash::sha256, host_key()}.transformed(kHostNqn);
  EXPECT_EQ(hex(host_response({Hash::sha256, kh, c1, shared, kSeq1, kTid}, kHostNqn, kSubNqn)),
            kVectors.at("r1_ffdhe2048_sha256"));
}

TEST(DhchapDh, EveryGroupAgreesAndRefusesBadValues) {
  for (DhGroup g : {DhGroup::ffdhe2048, DhGroup::ffdhe3072, DhGroup::ffdhe4096}) {
    DhKey a(g), b(g);
    ASSERT_EQ(a.public_value().size(), dh_value_length(g));
    EXPECT_EQ(a.shared_secret(b.public_value()), b.shared_secret(a.public_value())) << dhgroup_name(g);
    Bytes one(dh_value_length(g), 0);
    one.back() = 1;  // y = 1 is outside the group
    EXPECT_THROW(a.shared_secret(one), CryptoError);
    EXPECT_THROW(a.shared_secret(Bytes(10, 1)), CryptoError);
  }
}

TEST(DhchapNames, NvmetAndNvmeCliSpellings) {
  EXPECT_EQ(hash_from_name("hmac(sha384)"), Hash::sha384);
  EXPECT_EQ(hash_from_name("SHA-512"), Hash::sha512);
  EXPECT_EQ(dhgroup_from_name("ffdhe6144"), DhGroup::ffdhe6144);
  EXPECT_EQ(dhgroup_from_name("null"), DhGroup::null);
  EXPECT_FALSE(hash_from_name("md5"));
  EXPECT_FALSE(dhgroup_from_id(6));
}

}  // namespace
}  // namespace nvmf::nvme::dhchap
