#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "initiator/discovery.hpp"

using namespace nvmf::initiator;

namespace {
std::vector<std::uint8_t> make_log(std::uint64_t genctr, std::uint64_t numrec, std::size_t records_present) {
  std::vector<std::uint8_t> log(1024 + records_present * 1024, 0);
  std::memcpy(log.data(), &genctr, 8);
  std::memcpy(log.data() + 8, &numrec, 8);
  for (std::size_t i = 0; i < records_present; ++i) {
    std::uint8_t* e = log.data() + 1024 + i * 1024;
    e[0] = 3;  // tcp
    e[1] = 1;  // ipv4
    e[2] = i == 0 ? 3 : 2;
    e[3] = 0x2;  // not required
    std::uint16_t portid = static_cast<std::uint16_t>(7 + i), cntlid = 0xFFFF, asqsz = 32;
    std::memcpy(e + 4, &portid, 2);
    std::memcpy(e + 6, &cntlid, 2);
    std::memcpy(e + 8, &asqsz, 2);
    std::memcpy(e + 32, "4420                            ", 32);  // space padded, as TRSVCID is
    std::string nqn = "nqn.2024-01.io.example:sub" + std::to_string(i);
    std::memcpy(e + 256, nqn.data(), nqn.size());
    std::memcpy(e + 512, "127.0.0.1", 9);
    e[768] = 0;
  }
  return log;
}
}  // namespace

TEST(DiscoveryLog, ParsesEntries) {
  auto log = make_log(42, 2, 2);
  DiscoveryLog out;
  std::string why;
  ASSERT_TRUE(parse_discovery_log(log.data(), log.size(), &out, &why)) << why;
  EXPECT_EQ(out.genctr, 42u);
  ASSERT_EQ(out.entries.size(), 2u);
  EXPECT_EQ(out.entries[0].trtype, 3);
  EXPECT_EQ(out.entries[0].subtype, 3);
  EXPECT_EQ(out.entries[1].subtype, 2);
  EXPECT_EQ(out.entries[1].portid, 8);
  EXPECT_EQ(out.entries[1].cntlid, 0xFFFF);
  EXPECT_EQ(out.entries[1].asqsz, 32);
  EXPECT_EQ(out.entries[1].trsvcid, "4420");
  EXPECT_EQ(out.entries[1].traddr, "127.0.0.1");
  EXPECT_EQ(out.entries[1].subnqn, "nqn.2024-01.io.example:sub1");
}

TEST(DiscoveryLog, EmptyLog) {
  auto log = make_log(1, 0, 0);
  DiscoveryLog out;
  out.entries.resize(3);
  ASSERT_TRUE(parse_discovery_log(log.data(), log.size(), &out, nullptr));
  EXPECT_TRUE(out.entries.empty());
}

TEST(DiscoveryLog, RejectsTruncatedLog) {
  auto log = make_log(1, 3, 2);  // NUMREC says 3, only 2 present
  DiscoveryLog out;
  std::string why;
  EXPECT_FALSE(parse_discovery_log(log.data(), log.size(), &out, &why));
  EXPECT_NE(why.find("NUMREC 3"), std::string::npos);
  EXPECT_FALSE(parse_discovery_log(log.data(), 512, &out, &why));
}

TEST(DiscoveryLog, CodeNamesComeFromLibnvme) {
  EXPECT_EQ(trtype_string(3), "tcp");
  EXPECT_EQ(adrfam_string(1), "ipv4");
  EXPECT_EQ(subtype_string(2), "nvme subsystem");
  EXPECT_FALSE(trtype_string(200).empty());
}

// nvmet's TLS ports report TREQ 05h (secure channel required, SQ flow control disable supported), seen from nvmf
// discover against nvmet-tcp with addr_treq "required" on Linux 6.12.
TEST(DiscoveryLog, TreqNamesSecureChannelAndSqFlowControl) {
  EXPECT_EQ(treq_string(0x5), "required, sq flow control disable supported");
  EXPECT_EQ(treq_string(0x6), "not required, sq flow control disable supported");
  EXPECT_EQ(treq_string(0x1), "required");
  EXPECT_EQ(treq_string(0x4), "not specified, sq flow control disable supported");
}
