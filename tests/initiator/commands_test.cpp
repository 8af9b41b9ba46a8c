// Command builders against the spec layouts (NVMe base 2.0 / NVMe-oF 1.1): every field the controller reads.
#include <gtest/gtest.h>

#include <cstring>

#include "initiator/commands.hpp"
#include "nvme/fabrics.hpp"

using namespace nvmf;
using namespace nvmf::initiator;

TEST(Commands, ConnectAdminQueue) {
  nvme::Sqe sqe = make_connect(0, 31, 5000);
  const std::uint8_t* b = sqe.bytes();
  EXPECT_EQ(b[0], 0x7F);
  EXPECT_EQ(b[4], 0x01);  // fctype Connect
  EXPECT_EQ(b[42] | b[43] << 8, 0);
  EXPECT_EQ(b[44] | b[45] << 8, 31);
  EXPECT_EQ(b[46], 0);    // SQ flow control kept
  std::uint32_t kato;
  std::memcpy(&kato, b + 48, 4);
  EXPECT_EQ(kato, 5000u);
}

TEST(Commands, ConnectDataLayout) {
  std::array<std::uint8_t, 16> hostid{};
  for (int i = 0; i < 16; ++i) hostid[i] = static_cast<std::uint8_t>(i + 1);
  nvmf_connect_data d = make_connect_data(hostid, 0xFFFF, "nqn.sub", "nqn.host");
  const auto* raw = reinterpret_cast<const std::uint8_t*>(&d);
  ASSERT_EQ(sizeof d, 1024u);
  EXPECT_EQ(raw[0], 1);
  EXPECT_EQ(raw[15], 16);
  EXPECT_EQ(raw[16] | raw[17] << 8, 0xFFFF);
  EXPECT_STREQ(reinterpret_cast<const char*>(raw + 256), "nqn.sub");
  EXPECT_STREQ(reinterpret_cast<const char*>(raw + 512), "nqn.host");
  EXPECT_EQ(raw[256 + 7], 0);  // NUL padded
}

TEST(Commands, ConnectDataTruncatesOverlongNqn) {
  std::array<std::uint8_t, 16> hostid{};
  nvmf_connect_data d = make_connect_data(hostid, 1, std::string(300, 'a'), "h");
  EXPECT_EQ(strnlen(d.subsysnqn, sizeof d.subsysnqn), sizeof d.subsysnqn - 1);
}

TEST(Commands, PropertyGetCapIsEightBytes) {
  auto c = nvme::fabrics_view<nvme::PropertyCommand>(make_property_get(NVME_REG_CAP, true));
  EXPECT_EQ(c.fctype, nvme_fabrics_type_property_get);
  EXPECT_EQ(c.attrib, 1);
  EXPECT_EQ(c.offset, 0u);
  auto s = nvme::fabrics_view<nvme::PropertyCommand>(make_property_set(NVME_REG_CC, 0x460061, false));
  EXPECT_EQ(s.fctype, nvme_fabrics_type_property_set);
  EXPECT_EQ(s.attrib, 0);
  EXPECT_EQ(s.offset, 0x14u);
  EXPECT_EQ(s.value, 0x460061u);
}

TEST(Commands, GetLogPageSplitsDwordCount) {
  // 1024 bytes: NUMD 255 (0's based) -> NUMDL 255, NUMDU 0; RAE bit 15.
  nvme::Sqe sqe = make_get_log_page(0x70, 0, 1024, 0, true);
  EXPECT_EQ(sqe.opcode, nvme_admin_get_log_page);
  EXPECT_EQ(sqe.cdw10, 0x70u | 1u << 15 | 255u << 16);
  EXPECT_EQ(sqe.cdw11, 0u);
  // 1 MiB at offset 4 GiB + 8: NUMD 0x3FFFF -> NUMDL 0xFFFF, NUMDU 3; offset split over CDW12/13.
  sqe = make_get_log_page(0x02, 0xFFFFFFFF, 1u << 20, (1ull << 32) + 8);
  EXPECT_EQ(sqe.cdw10, 0x02u | 0xFFFFu << 16);
  EXPECT_EQ(sqe.cdw11, 3u);
  EXPECT_EQ(sqe.cdw12, 8u);
  EXPECT_EQ(sqe.cdw13, 1u);
  EXPECT_EQ(sqe.nsid, 0xFFFFFFFFu);
}

TEST(Commands, NumberOfQueuesIsZeroBased) {
  nvme::Sqe sqe = make_set_number_of_queues(2);
  EXPECT_EQ(sqe.opcode, nvme_admin_set_features);
  EXPECT_EQ(sqe.cdw10, 0x07u);
  EXPECT_EQ(sqe.cdw11, 0x00010001u);  // what the Linux host sends for 2 + 2
}

TEST(Commands, ReadWriteFields) {
  nvme::Sqe r = make_read(1, 0x123456789ull, 8);
  EXPECT_EQ(r.opcode, nvme_cmd_read);
  EXPECT_EQ(r.nsid, 1u);
  EXPECT_EQ(r.slba(), 0x123456789ull);
  EXPECT_EQ(r.cdw12, 7u);
  nvme::Sqe w = make_write(2, 0, 65536, true);
  EXPECT_EQ(w.opcode, nvme_cmd_write);
  EXPECT_EQ(w.cdw12, 0xFFFFu | 1u << 30);
  nvme::Sqe z = make_write_zeroes(1, 10, 4, true);
  EXPECT_EQ(z.opcode, nvme_cmd_write_zeroes);
  EXPECT_EQ(z.cdw12, 3u | 1u << 25);
  nvme::Sqe d = make_deallocate(1, 3);
  EXPECT_EQ(d.opcode, nvme_cmd_dsm);
  EXPECT_EQ(d.cdw10, 2u);
  EXPECT_EQ(d.cdw11, 4u);  // AD
  EXPECT_EQ(make_compare(1, 0, 1).opcode, nvme_cmd_compare);
  EXPECT_EQ(make_flush(1).opcode, nvme_cmd_flush);
}

TEST(Commands, IdentifyCnsAndCntid) {
  nvme::Sqe sqe = make_identify(NVME_IDENTIFY_CNS_NS_ACTIVE_LIST, 5, 0x12);
  EXPECT_EQ(sqe.opcode, nvme_admin_identify);
  EXPECT_EQ(sqe.nsid, 5u);
  EXPECT_EQ(sqe.cdw10, 0x02u | 0x12u << 16);
}
