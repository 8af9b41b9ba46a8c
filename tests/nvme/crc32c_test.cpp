#include "nvme/crc32c.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using namespace nvmf::nvme;

// Known answers: RFC 3720 (iSCSI) B.4 test vectors and the standard "123456789" check value.
TEST(Crc32c, CheckValue) { EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u); }

TEST(Crc32c, Rfc3720ZerosAndOnes) {
  std::vector<unsigned char> buf(32, 0x00);
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x8A9136AAu);
  std::memset(buf.data(), 0xFF, buf.size());
  EXPECT_EQ(crc32c(buf.data(), buf.size()), 0x62A8AB43u);
}

TEST(Crc32c, Rfc3720Incrementing) {
  std::vector<unsigned char> up(32), down(32);
  for (int i = 0; i < 32; ++i) {
    up[i] = static_cast<unsigned char>(i);
    down[i] = static_cast<unsigned char>(31 - i);
  }
  EXPECT_EQ(crc32c(up.data(), up.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(down.data(), down.size()), 0x113FDB5Cu);
}

TEST(Crc32c, ChainingEqualsOneShot) {
  std::vector<unsigned char> buf(10000);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 7 + 3);
  std::uint32_t state = kCrc32cSeed;
  state = crc32c_update(state, buf.data(), 1234);
  state = crc32c_update(state, buf.data() + 1234, buf.size() - 1234);
  EXPECT_EQ(crc32c_finish(state), crc32c(buf.data(), buf.size()));
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}
