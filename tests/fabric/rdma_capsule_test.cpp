// NVMe/RDMA capsules: SGL parsing on the controller side (statuses for every malformed form, as the Linux target
// answers them) and SGL building on the host side (byte layout of keyed and in-capsule descriptors).
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "fabric/rdma/capsule.hpp"
#include "fabric/rdma/receive_layout.hpp"
#include "nvme/fabrics.hpp"

namespace nvmf::fabric::rdma {
namespace {

using nvme::Status;

constexpr std::uint32_t kIcd = 8192;
constexpr std::uint32_t kMdts = 128 * 1024;

nvme::Sqe command(std::uint8_t opcode) {
  nvme::Sqe sqe{};
  sqe.opcode = opcode;
  sqe.flags = nvme::kPsdtSgl;
  return sqe;
}

const std::uint8_t* bytes(const nvme::Sqe& sqe) { return sqe.bytes(); }

TEST(RdmaCapsule, HostInCapsuleLimitIsClampedToTheCapsuleBuffers) {
  // What RdmaHostQueue::set_in_capsule_limit (HostQueue's, for the initiator) keeps of the controller's IOCCSZ.
  EXPECT_EQ(host_in_capsule_limit(0), 0u);  // admin queue: keyed SGLs only, like the Linux host
  EXPECT_EQ(host_in_capsule_limit(4096), 4096u);
  EXPECT_EQ(host_in_capsule_limit(kHostMaxInCapsule), kHostMaxInCapsule);
  EXPECT_EQ(host_in_capsule_limit(16384 - 64), kHostMaxInCapsule);  // IOCCSZ of a 16 KiB capsule: clamped
  EXPECT_EQ(host_in_capsule_limit(0xFFFFFFFFu), kHostMaxInCapsule);
}

TEST(RdmaCapsule, KeyedSglLayoutMatchesTheSpec) {
  auto sqe = command(nvme_cmd_read);
  sqe.flags = 0;
  set_keyed_sgl(sqe, 0x1122334455667788ull, 0xABCDEF, 0xDEADBEEF, true);
  const std::uint8_t* d = bytes(sqe) + 24;
  EXPECT_EQ(sqe.flags & nvme::kPsdtMask, nvme::kPsdtSgl);
  EXPECT_EQ(d[0], 0x88);
  EXPECT_EQ(d[7], 0x11);
  EXPECT_EQ(d[8], 0xEF);  // 24-bit length at byte 8
  EXPECT_EQ(d[9], 0xCD);
  EXPECT_EQ(d[10], 0xAB);
  EXPECT_EQ(d[11], 0xEF);  // key at byte 11
  EXPECT_EQ(d[14], 0xDE);
  EXPECT_EQ(d[15], 0x4F);  // Keyed Data Block (4h), Invalidate Key (Fh)
  set_keyed_sgl(sqe, 0, 4096, 1, false);
  EXPECT_EQ(d[15], 0x40);
}

TEST(RdmaCapsule, NullAndInCapsuleSglLayouts) {
  auto sqe = command(nvme_cmd_flush);
  set_null_sgl(sqe);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(bytes(sqe)[24 + i], 0) << i;
  EXPECT_EQ(bytes(sqe)[39], 0x40);
  set_in_capsule_sgl(sqe, 512);
  EXPECT_EQ(sqe.dptr.address, 0u);
  EXPECT_EQ(sqe.dptr.length, 512u);
  EXPECT_EQ(bytes(sqe)[39], 0x01);  // Data Block (0h), Offset (1h)
}

TEST(RdmaCapsule, KeyedWriteParses) {
  auto sqe = command(nvme_cmd_write);
  set_keyed_sgl(sqe, 0x7000, 65536, 0x1234, true);
  auto d = parse_command_capsule(sqe, 64, kIcd, kMdts);
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(d.direction, DataDirection::host_to_controller);
  EXPECT_EQ(d.location, DataLocation::keyed);
  EXPECT_EQ(d.length, 65536u);
  EXPECT_EQ(d.remote_address, 0x7000u);
  EXPECT_EQ(d.remote_key, 0x1234u);
  EXPECT_TRUE(d.invalidate_key);
}

TEST(RdmaCapsule, KeyedReadWithoutInvalidate) {
  auto sqe = command(nvme_cmd_read);
  set_keyed_sgl(sqe, 0x9000, 4096, 77, false);
  auto d = parse_command_capsule(sqe, 64, kIcd, kMdts);
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(d.direction, DataDirection::controller_to_host);
  EXPECT_FALSE(d.invalidate_key);
}

TEST(RdmaCapsule, NullSglMeansNoData) {
  auto sqe = command(nvme_cmd_flush);
  set_null_sgl(sqe);
  auto d = parse_command_capsule(sqe, 64, kIcd, kMdts);
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(d.location, DataLocation::none);
  EXPECT_EQ(d.direction, DataDirection::none);
  EXPECT_EQ(d.length, 0u);
}

TEST(RdmaCapsule, InCapsuleWriteParses) {
  auto sqe = command(nvme_cmd_write);
  set_in_capsule_sgl(sqe, 4096);
  auto d = parse_command_capsule(sqe, 64 + 4096, kIcd, kMdts);
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(d.location, DataLocation::in_capsule);
  EXPECT_EQ(d.length, 4096u);
  EXPECT_EQ(d.in_capsule_offset, 0u);
}

TEST(RdmaCapsule, InCapsuleDataMissingFromTheCapsule) {
  auto sqe = command(nvme_cmd_write);
  set_in_capsule_sgl(sqe, 4096);
  auto d = parse_command_capsule(sqe, 64 + 4095, kIcd, kMdts);
  EXPECT_TRUE(d.status.same_code(Status::generic(NVME_SC_SGL_INVALID_DATA)));
  EXPECT_TRUE(d.status.dnr());
}

TEST(RdmaCapsule, InCapsuleBeyondTheAdvertisedSize) {
  auto sqe = command(nvme_cmd_write);
  set_in_capsule_sgl(sqe, kIcd + 512);
  auto d = parse_command_capsule(sqe, 64 + kIcd + 512, kIcd, kMdts);
  EXPECT_TRUE(d.status.same_code(Status::generic(NVME_SC_SGL_INVALID_OFFSET)));
  sqe.dptr.length = 512;
  sqe.dptr.address = kIcd;  // offset past the in-capsule area
  EXPECT_TRUE(parse_command_capsule(sqe, 64 + kIcd + 512, kIcd, kMdts).status.same_code(
      Status::generic(NVME_SC_SGL_INVALID_OFFSET)));
}

TEST(RdmaCapsule, InCapsuleDataForAReadIsInvalidField) {
  auto sqe = command(nvme_cmd_read);
  set_in_capsule_sgl(sqe, 512);
  EXPECT_TRUE(
      parse_command_capsule(sqe, 64 + 512, kIcd, kMdts).status.same_code(Status::generic(NVME_SC_INVALID_FIELD)));
}

TEST(RdmaCapsule, KeyedLengthAboveMdts) {
  auto sqe = command(nvme_cmd_write);
  set_keyed_sgl(sqe, 0x1000, kMdts + 4096, 1, false);
  auto d = parse_command_capsule(sqe, 64, kIcd, kMdts);
  EXPECT_TRUE(d.status.same_code(Status::generic(NVME_SC_SGL_INVALID_DATA)));
}

TEST(RdmaCapsule, UnsupportedSubtypesAndTypes) {
  auto sqe = command(nvme_cmd_write);
  set_keyed_sgl(sqe, 0x1000, 4096, 1, false);
  sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::keyed_data_block, nvme::SglSubtype::offset);
  EXPECT_TRUE(parse_command_capsule(sqe, 64, kIcd, kMdts).status.same_code(Status::generic(NVME_SC_INVALID_FIELD)));
  sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::address);
  EXPECT_TRUE(parse_command_capsule(sqe, 64, kIcd, kMdts).status.same_code(Status::generic(NVME_SC_INVALID_FIELD)));
  for (auto type : {nvme::SglType::bit_bucket, nvme::SglType::segment, nvme::SglType::last_segment,
                    nvme::SglType::transport_data_block}) {
    sqe.dptr.id = nvme::SglDescriptor::make_id(type, nvme::SglSubtype::address);
    EXPECT_TRUE(parse_command_capsule(sqe, 64, kIcd, kMdts).status.same_code(Status::generic(NVME_SC_SGL_INVALID_TYPE)))
        << static_cast<int>(type);
  }
}

TEST(RdmaCapsule, PrpCommandIsInvalidField) {
  auto sqe = command(nvme_cmd_read);
  set_keyed_sgl(sqe, 0x1000, 4096, 1, false);
  sqe.flags = 0;  // PSDT 00b: PRPs, not allowed over fabrics
  EXPECT_TRUE(parse_command_capsule(sqe, 64, kIcd, kMdts).status.same_code(Status::generic(NVME_SC_INVALID_FIELD)));
}

TEST(RdmaCapsule, DataForACommandWithoutDirection) {
  auto sqe = command(nvme_cmd_flush);
  set_keyed_sgl(sqe, 0x1000, 4096, 1, false);
  EXPECT_TRUE(parse_command_capsule(sqe, 64, kIcd, kMdts).status.same_code(Status::generic(NVME_SC_INVALID_FIELD)));
  auto bidi = command(0x03);
  set_null_sgl(bidi);
  EXPECT_TRUE(parse_command_capsule(bidi, 64, kIcd, kMdts).status.same_code(Status::generic(NVME_SC_INVALID_FIELD)));
}

TEST(RdmaCapsule, ResponseCapsuleIsTheCqe) {
  EXPECT_EQ(kResponseCapsuleSize, 16u);
  EXPECT_EQ(kCommandCapsuleHeader, 64u);
}

// Receive buffers: the SQE and the in-capsule data scatter into separate places, the data on a 4 KiB boundary
// (so in-capsule writes can go O_DIRECT), nothing overlapping, all inside the one registered allocation.
TEST(RdmaReceiveLayout, InCapsuleDataStartsOnA4KiBBoundary) {
  for (std::uint32_t limit : {8192u, 4096u, 1000u, 16u}) {
    const std::uint32_t depth = 33;
    ReceiveLayout layout(depth, limit);
    EXPECT_EQ(layout.total_bytes() % ReceiveLayout::kDataAlignment, 0u);
    alignas(4096) static std::byte base[33 * 8192 + 4096];
    ASSERT_LE(layout.total_bytes(), sizeof base);
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;  // [begin, end) of every SGE
    for (std::uint32_t i = 0; i < depth; ++i) {
      ibv_sge sges[ReceiveLayout::kMaxSges];
      ASSERT_EQ(layout.fill_sges(base, 0x1234, i, sges), 2u);
      EXPECT_EQ(sges[0].length, kCommandCapsuleHeader);
      EXPECT_EQ(sges[1].length, limit);
      EXPECT_EQ(sges[1].addr % 4096, 0u) << "limit " << limit << " index " << i;
      EXPECT_EQ(sges[1].addr, reinterpret_cast<std::uint64_t>(base + layout.data_offset(i)));
      EXPECT_EQ(sges[0].addr, reinterpret_cast<std::uint64_t>(base + layout.sqe_offset(i)));
      for (const auto& sge : sges) {
        EXPECT_EQ(sge.lkey, 0x1234u);
        EXPECT_LE(sge.addr + sge.length, reinterpret_cast<std::uint64_t>(base) + layout.total_bytes());
        ranges.emplace_back(sge.addr, sge.addr + sge.length);
      }
    }
    std::sort(ranges.begin(), ranges.end());
    for (std::size_t i = 1; i < ranges.size(); ++i) EXPECT_LE(ranges[i - 1].second, ranges[i].first) << limit;
  }
}

TEST(RdmaReceiveLayout, NoInCapsuleDataMeansOneSge) {
  ReceiveLayout layout(4, 0);
  alignas(4096) static std::byte base[4096];
  ASSERT_LE(layout.total_bytes(), sizeof base);
  ibv_sge sges[ReceiveLayout::kMaxSges];
  EXPECT_EQ(layout.fill_sges(base, 7, 3, sges), 1u);
  EXPECT_EQ(sges[0].length, kCommandCapsuleHeader);
  EXPECT_EQ(sges[0].addr, reinterpret_cast<std::uint64_t>(base + 3 * 64));
}

// The ofi controller queue posts the same layout with fi_recvv (fabric/ofi/controller_queue.cpp): its iovecs are
// the pieces, which must be the SGEs as offsets.
TEST(RdmaReceiveLayout, PiecesAreTheSgesAsOffsets) {
  for (std::uint32_t limit : {8192u, 0u}) {
    ReceiveLayout layout(5, limit);
    alignas(4096) static std::byte base[5 * 8192 + 4096];
    ASSERT_LE(layout.total_bytes(), sizeof base);
    for (std::uint32_t i = 0; i < 5; ++i) {
      ibv_sge sges[ReceiveLayout::kMaxSges];
      ReceiveLayout::Piece pieces[ReceiveLayout::kMaxSges];
      const std::uint32_t count = layout.pieces(i, pieces);
      ASSERT_EQ(count, layout.fill_sges(base, 1, i, sges));
      EXPECT_EQ(count, limit ? 2u : 1u);
      for (std::uint32_t k = 0; k < count; ++k) {
        EXPECT_EQ(reinterpret_cast<std::uint64_t>(base + pieces[k].offset), sges[k].addr);
        EXPECT_EQ(pieces[k].length, sges[k].length);
      }
    }
  }
}

}  // namespace
}  // namespace nvmf::fabric::rdma
