// Known-answer tests for the NVMe/TCP TLS PSK formats and derivations. Every expected value comes from libnvme's
// own test/psk.c (interchange format, version-1 identities with their digest, and the "compat" identities of
// the HKDF label encoding of libnvme 1.15 and earlier), never from this code.
#include <gtest/gtest.h>

#include "nvme/tls_psk.hpp"

namespace nvmf::nvme::tls {
namespace {

const std::uint8_t kKey48[48] = {0x55, 0x12, 0xDB, 0xB6, 0x73, 0x7D, 0x01, 0x06, 0xF6, 0x59, 0x75, 0xB7,
                                 0x73, 0xDF, 0xB0, 0x11, 0xFF, 0xC3, 0x44, 0xBC, 0xF4, 0x42, 0xE2, 0xDD,
                                 0x6D, 0x8B, 0xC4, 0x87, 0x0B, 0x5D, 0x5B, 0x03, 0xFF, 0xC3, 0x44, 0xBC,
                                 0xF4, 0x42, 0xE2, 0xDD, 0x6D, 0x8B, 0xC4, 0x87, 0x0B, 0x5D, 0x5B, 0x03};

ConfiguredPsk key(std::uint8_t hmac, std::size_t len) {
  ConfiguredPsk psk;
  psk.hmac = hmac;
  psk.key = SecretBytes(kKey48, len);
  return psk;
}

struct InterchangeCase {
  std::uint8_t hmac;
  std::size_t len;
  const char* text;
};
const InterchangeCase kInterchange[] = {
    {kHashNone, 32, "NVMeTLSkey-1:00:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"},
    {kHashSha256, 32, "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"},
    {kHashSha384, 48, "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2LxIcLXVsDn8kXZQ==:"},
};

TEST(TlsPsk, InterchangeFormatMatchesLibnvme) {
  for (const auto& c : kInterchange) {
    EXPECT_EQ(format_interchange(key(c.hmac, c.len)), c.text);
    std::string error;
    auto parsed = parse_interchange(c.text, &error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(parsed->hmac, c.hmac);
    EXPECT_TRUE(parsed->key == key(c.hmac, c.len).key);
  }
}

TEST(TlsPsk, InterchangeFormatRejectsBadInput) {
  std::string error;
  // One base64 character changed: the CRC-32 no longer matches.
  EXPECT_FALSE(parse_interchange("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrY:", &error));
  EXPECT_NE(error.find("CRC-32"), std::string::npos);
  EXPECT_EQ(error.find("VRLb"), std::string::npos) << "errors never quote the key";
  EXPECT_FALSE(parse_interchange("NVMeTLSkey-1:03:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &error));
  EXPECT_FALSE(parse_interchange("NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &error));
  EXPECT_FALSE(parse_interchange("NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ", &error));
  EXPECT_FALSE(parse_interchange("DHHC-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:", &error));
  EXPECT_FALSE(parse_interchange("NVMeTLSkey-1:01:!!!!:", &error));
  EXPECT_FALSE(parse_interchange("", &error));
  // A trailing newline (the key read from a file) is fine.
  EXPECT_TRUE(parse_interchange(std::string(kInterchange[1].text) + "\n", &error));
}

TEST(TlsPsk, Crc32IsZlibs) {
  const std::uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  EXPECT_EQ(crc32_ieee(check, sizeof check), 0xCBF43926u);  // the CRC-32 check value
}

// libnvme test/psk.c: nvme_generate_tls_key_identity (RFC 8446 HkdfLabel) and its _compat variant (libnvme
// <= 1.15 label encoding). The digest is an HMAC keyed with the retained PSK, so these pin the retained-PSK
// derivation (HKDF-Expand-Label "HostNQN") as well as the identity.
TEST(TlsPsk, Version1IdentityMatchesLibnvme) {
  auto p256 = derive_tls_psk(key(kHashSha256, 32), "nqn.psk-test-host", "nqn.psk-test-subsys", 1);
  EXPECT_EQ(p256.identity,
            "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys iSbjiStwJ/1TrTvDlt2fjFmzvsytOJelidNnA+X5lEU=");
  EXPECT_EQ(p256.hash, kHashSha256);
  EXPECT_EQ(p256.key.size(), 32u);
  auto p384 = derive_tls_psk(key(kHashSha384, 48), "nqn.psk-test-host", "nqn.psk-test-subsys", 1);
  EXPECT_EQ(p384.identity,
            "NVMe1R02 nqn.psk-test-host nqn.psk-test-subsys "
            "QhW2+Rp6RzHlNtCslyRxMnwJ11tKKhz8JCAQpQ+XUD8f9td1VeH5h53yz2wKJG1a");
  EXPECT_EQ(p384.hash, kHashSha384);
  EXPECT_EQ(p384.key.size(), 48u);
}

TEST(TlsPsk, Libnvme115LabelEncodingMatchesItsCompatVectors) {
  auto p256 = derive_tls_psk(key(kHashSha256, 32), "nqn.psk-test-host", "nqn.psk-test-subsys", 1,
                             LabelEncoding::libnvme_1_15);
  EXPECT_EQ(p256.identity,
            "NVMe1R01 nqn.psk-test-host nqn.psk-test-subsys 66GuqV08TsAGII39teWUfwQwizjv06Jy8jOcX3NAAzM=");
  auto p384 = derive_tls_psk(key(kHashSha384, 48), "nqn.psk-test-host", "nqn.psk-test-subsys", 1,
                             LabelEncoding::libnvme_1_15);
  EXPECT_EQ(p384.identity,
            "NVMe1R02 nqn.psk-test-host nqn.psk-test-subsys "
            "RsKmYJ3nAn1ApjjMloJFbAkLPivONDAX/xW327YBUsn2eGShXSjCZvBaOxscLqmz");
}

TEST(TlsPsk, Version0IdentityAndKeyBinding) {
  auto v0 = derive_tls_psk(key(kHashSha256, 32), "nqn.h", "nqn.s", 0);
  EXPECT_EQ(v0.identity, "NVMe0R01 nqn.h nqn.s");
  // HH 00 with 48 bytes: no retained transform, SHA-384 suite.
  auto none48 = derive_tls_psk(key(kHashNone, 48), "nqn.h", "nqn.s", 0);
  EXPECT_EQ(none48.identity, "NVMe0R02 nqn.h nqn.s");
  // The TLS PSK depends on host, subsystem and key.
  EXPECT_FALSE(derive_tls_psk(key(kHashSha256, 32), "nqn.h2", "nqn.s", 0).key == v0.key);
  EXPECT_FALSE(derive_tls_psk(key(kHashSha256, 32), "nqn.h", "nqn.s2", 0).key == v0.key);
  EXPECT_TRUE(derive_tls_psk(key(kHashSha256, 32), "nqn.h", "nqn.s", 0).key == v0.key);
}

TEST(TlsPsk, IdentityParsing) {
  auto id = parse_identity("NVMe0R01 nqn.h nqn.s");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->version, 0);
  EXPECT_EQ(id->hash, kHashSha256);
  EXPECT_EQ(id->hostnqn, "nqn.h");
  EXPECT_EQ(id->subnqn, "nqn.s");
  auto v1 = parse_identity("NVMe1R02 nqn.h nqn.s abc=");
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->digest, "abc=");
  EXPECT_EQ(v1->to_string(), "NVMe1R02 nqn.h nqn.s abc=");
  EXPECT_FALSE(parse_identity("NVMe1R01 nqn.h nqn.s"));
  EXPECT_FALSE(parse_identity("NVMe0R01 nqn.h nqn.s extra"));
  EXPECT_FALSE(parse_identity("NVMe0G01 nqn.h nqn.s"));
  EXPECT_FALSE(parse_identity("NVMe0R03 nqn.h nqn.s"));
  EXPECT_FALSE(parse_identity("NVMe0R01 nqn.h"));
  EXPECT_FALSE(parse_identity("garbage"));
}

// Found by fuzz_tls_key: a host offering a long subsystem NQN in its identity made the derivation throw inside
// OpenSSL's PSK callback (the HKDF context is at most 255 bytes), which ended the target.
TEST(TlsPsk, OverlongIdentityIsRefusedNotThrown) {
  const std::string long_nqn = "nqn.2024-01.io.nvmf:" + std::string(220, 'x');
  for (int version : {0, 1}) {
    PskIdentity id;
    id.version = version;
    id.hostnqn = "nqn.h";
    id.subnqn = long_nqn;
    id.digest = "abc=";
    std::string why;
    EXPECT_FALSE(psk_for_identity(id, key(kHashSha256, 32), &why)) << version;
    EXPECT_NE(why.find("too long"), std::string::npos) << why;
  }
  // At the limits it still derives: 223-byte NQNs in version 1 (the digest is the context).
  PskIdentity fits;
  fits.version = 1;
  fits.hostnqn = "nqn.2024-01.io.nvmf:" + std::string(203, 'h');
  fits.subnqn = "nqn.2024-01.io.nvmf:" + std::string(203, 's');
  fits.digest = derive_tls_psk(key(kHashSha256, 32), fits.hostnqn, fits.subnqn, 1).identity.substr(9 + 223 + 1 + 223 + 1);
  std::string why;
  EXPECT_TRUE(psk_for_identity(fits, key(kHashSha256, 32), &why)) << why;
}

TEST(TlsPsk, GeneratedKeysRoundTrip) {
  for (std::uint8_t hmac : {kHashNone, kHashSha256, kHashSha384}) {
    auto psk = generate_psk(hmac);
    std::string error;
    auto back = parse_interchange(format_interchange(psk), &error);
    ASSERT_TRUE(back) << error;
    EXPECT_TRUE(back->key == psk.key);
  }
}

}  // namespace
}  // namespace nvmf::nvme::tls
