// The ublk server's pure parts: request descriptors to block commands, COMMIT results from NVMe statuses, and
// the device parameters taken from Identify data.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "initiator/attach/attach_registry.hpp"
#include "initiator/attach/device_params.hpp"
#include "initiator/attach/request_mapping.hpp"

using namespace nvmf::initiator;
using namespace nvmf::initiator::ublk;

namespace {
IoDesc desc(std::uint8_t op, std::uint32_t flags, std::uint64_t sector, std::uint32_t sectors) {
  IoDesc d{};
  d.op_flags = op | flags;
  d.start_sector = sector;
  d.nr_sectors = sectors;
  return d;
}

Namespace ns4k() {
  Namespace ns;
  ns.nsid = 1;
  ns.block_size = 4096;
  ns.capacity_blocks = 1 << 20;
  ns.max_transfer_blocks = 64;  // 256 KiB
  return ns;
}
}  // namespace

TEST(AttachRequestMapping, ReadAndWriteInLogicalBlocks) {
  BlockRequest r = map_request(desc(kOpRead, 0, 16, 8), 4096);
  EXPECT_EQ(r.kind, BlockRequest::Kind::read);
  EXPECT_EQ(r.slba, 2u);
  EXPECT_EQ(r.nlb, 1u);
  EXPECT_EQ(r.bytes, 4096u);
  EXPECT_FALSE(r.fua);

  r = map_request(desc(kOpWrite, kIoFlagFua, 3, 5), 512);
  EXPECT_EQ(r.kind, BlockRequest::Kind::write);
  EXPECT_EQ(r.slba, 3u);
  EXPECT_EQ(r.nlb, 5u);
  EXPECT_EQ(r.bytes, 2560u);
  EXPECT_TRUE(r.fua);
}

TEST(AttachRequestMapping, FlushDiscardWriteZeroes) {
  EXPECT_EQ(map_request(desc(kOpFlush, 0, 0, 0), 4096).kind, BlockRequest::Kind::flush);
  BlockRequest d = map_request(desc(kOpDiscard, 0, 8, 16), 4096);
  EXPECT_EQ(d.kind, BlockRequest::Kind::discard);
  EXPECT_EQ(d.slba, 1u);
  EXPECT_EQ(d.nlb, 2u);
  EXPECT_EQ(d.bytes, 0u);  // no data moved: COMMIT reports 0
  BlockRequest z = map_request(desc(kOpWriteZeroes, kIoFlagNoUnmap, 0, 8), 512);
  EXPECT_EQ(z.kind, BlockRequest::Kind::write_zeroes);
  EXPECT_EQ(z.nlb, 8u);
}

TEST(AttachRequestMapping, RefusesPartialBlocksAndUnknownOps) {
  EXPECT_EQ(map_request(desc(kOpRead, 0, 1, 8), 4096).kind, BlockRequest::Kind::invalid);
  EXPECT_EQ(map_request(desc(kOpWrite, 0, 0, 7), 4096).kind, BlockRequest::Kind::invalid);
  EXPECT_EQ(map_request(desc(kOpWriteSame, 0, 0, 8), 4096).kind, BlockRequest::Kind::invalid);
  EXPECT_EQ(map_request(desc(10, 0, 0, 8), 512).kind, BlockRequest::Kind::invalid);  // zoned op
}

TEST(AttachRequestMapping, CommitResults) {
  BlockRequest r = map_request(desc(kOpRead, 0, 0, 8), 512);
  EXPECT_EQ(commit_result(r, nvmf::nvme::Status::success()), 4096);
  EXPECT_EQ(commit_result(r, nvmf::nvme::Status::media(NVME_SC_READ_ERROR)), -EIO);
  EXPECT_EQ(commit_result(r, nvmf::nvme::Status::generic(NVME_SC_CAP_EXCEEDED)), -ENOSPC);
  EXPECT_EQ(commit_result(r, nvmf::nvme::Status::generic(NVME_SC_INVALID_OPCODE)), -EOPNOTSUPP);
  BlockRequest f = map_request(desc(kOpFlush, 0, 0, 0), 512);
  EXPECT_EQ(commit_result(f, nvmf::nvme::Status::success()), 0);
}

TEST(AttachDeviceParams, FromIdentify) {
  Namespace ns = ns4k();
  nvme_id_ns id_ns{};
  nvme_id_ctrl id_ctrl{};
  id_ctrl.vwc = NVME_CTRL_VWC_PRESENT;
  id_ctrl.oncs = htole16(NVME_CTRL_ONCS_DSM | NVME_CTRL_ONCS_WRITE_ZEROES);
  const std::uint32_t buf = io_buffer_bytes(ns, 512 * 1024);
  EXPECT_EQ(buf, 256u * 1024);  // the namespace's maximum transfer is below the cap
  Params p{};
  std::string why;
  ASSERT_TRUE(device_params(ns, id_ns, id_ctrl, buf, &p, &why)) << why;
  EXPECT_EQ(p.len, 60u);
  EXPECT_EQ(p.types, kParamTypeBasic | kParamTypeDiscard);
  EXPECT_EQ(p.basic.logical_bs_shift, 12);
  EXPECT_EQ(p.basic.physical_bs_shift, 12);
  EXPECT_EQ(p.basic.max_sectors, 512u);
  EXPECT_EQ(p.basic.dev_sectors, (1ull << 20) * 8);
  EXPECT_EQ(p.basic.attrs, kAttrVolatileCache | kAttrFua);
  EXPECT_EQ(p.discard.max_discard_segments, 1);
  EXPECT_EQ(p.discard.discard_granularity, 4096u);
  EXPECT_GT(p.discard.max_discard_sectors, 0u);
  EXPECT_EQ(p.discard.max_write_zeroes_sectors, 65536u * 8);
}

TEST(AttachDeviceParams, NoCacheNoDiscardAndPhysicalBlockFromNpwg) {
  Namespace ns = ns4k();
  ns.block_size = 512;
  ns.max_transfer_blocks = 65536;
  nvme_id_ns id_ns{};
  id_ns.nsfeat = NVME_NS_FEAT_IO_OPT;
  id_ns.npwg = htole16(7);  // 8 blocks: 4 KiB physical
  nvme_id_ctrl id_ctrl{};
  EXPECT_EQ(io_buffer_bytes(ns, 512 * 1024), 512u * 1024);  // capped
  Params p{};
  std::string why;
  ASSERT_TRUE(device_params(ns, id_ns, id_ctrl, 512 * 1024, &p, &why)) << why;
  EXPECT_EQ(p.types, kParamTypeBasic);
  EXPECT_EQ(p.basic.attrs, 0u);
  EXPECT_EQ(p.basic.logical_bs_shift, 9);
  EXPECT_EQ(p.basic.physical_bs_shift, 12);
}

TEST(AttachDeviceParams, RefusesBlockSizesTheKernelCannotTake) {
  Namespace ns = ns4k();
  ns.block_size = 520;
  nvme_id_ns id_ns{};
  nvme_id_ctrl id_ctrl{};
  Params p{};
  std::string why;
  EXPECT_FALSE(device_params(ns, id_ns, id_ctrl, 4096, &p, &why));
  EXPECT_NE(why.find("520"), std::string::npos);
}

TEST(AttachRegistry, ParsesDeviceNames) {
  EXPECT_EQ(attach::parse_ublk_device("/dev/ublkb3"), 3u);
  EXPECT_EQ(attach::parse_ublk_device("ublkb12"), 12u);
  EXPECT_EQ(attach::parse_ublk_device("7"), 7u);
  EXPECT_FALSE(attach::parse_ublk_device("/dev/nbd0"));
  EXPECT_FALSE(attach::parse_ublk_device("/dev/ublkb"));
  EXPECT_FALSE(attach::parse_ublk_device("/dev/ublkbx"));
  EXPECT_EQ(attach::parse_nbd_device("/dev/nbd2"), 2u);
  EXPECT_EQ(attach::parse_nbd_device("nbd15"), 15u);
  EXPECT_FALSE(attach::parse_nbd_device("/dev/ublkb0"));
  EXPECT_FALSE(attach::parse_nbd_device("/dev/nbd"));
}
