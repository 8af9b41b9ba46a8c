// Wire layouts pinned byte by byte against the spec tables (the static_asserts pin offsets; these pin values).
#include <gtest/gtest.h>

#include <cstring>

#include "nvme/fabrics.hpp"
#include "nvme/rdma_cm.hpp"
#include "nvme/sgl.hpp"
#include "nvme/sqe.hpp"
#include "nvme/tcp_pdu.hpp"

using namespace nvmf::nvme;

TEST(Wire, ConnectCommandBytes) {
  ConnectCommand c{};
  c.opcode = kFabricsOpcode;
  c.fctype = nvme_fabrics_type_connect;
  c.qid = 3;
  c.sqsize = 127;
  c.cattr = kConnectCattrDisableSqFlowControl;
  c.kato = 5000;
  Sqe sqe = to_sqe(c);
  const std::uint8_t* b = sqe.bytes();
  EXPECT_EQ(b[0], 0x7F);
  EXPECT_EQ(b[4], 0x01);
  EXPECT_EQ(b[42], 3);
  EXPECT_EQ(b[44], 127);
  EXPECT_EQ(b[46], 0x04);
  EXPECT_EQ(b[48] | b[49] << 8, 5000);
  EXPECT_EQ(fabrics_view<ConnectCommand>(sqe).sqsize, 127);
}

TEST(Wire, SglIdentifierAndKeyedFields) {
  SglDescriptor d{};
  d.id = SglDescriptor::make_id(SglType::transport_data_block, SglSubtype::transport_specific);
  EXPECT_EQ(d.id, 0x5A);
  EXPECT_EQ(d.type(), SglType::transport_data_block);
  d.id = SglDescriptor::make_id(SglType::data_block, SglSubtype::offset);
  EXPECT_EQ(d.id, 0x01);

  KeyedSglDescriptor k{};
  k.set_length(0x123456);
  k.set_key(0xAABBCCDD);
  k.id = SglDescriptor::make_id(SglType::keyed_data_block, SglSubtype::invalidate_key);
  const auto* b = reinterpret_cast<const std::uint8_t*>(&k);
  EXPECT_EQ(b[8], 0x56);
  EXPECT_EQ(b[10], 0x12);
  EXPECT_EQ(b[11], 0xDD);
  EXPECT_EQ(b[14], 0xAA);
  EXPECT_EQ(b[15], 0x4F);
  EXPECT_EQ(k.get_length(), 0x123456u);
  EXPECT_EQ(k.get_key(), 0xAABBCCDDu);
}

TEST(Wire, TcpTermReqFeiAtOffsetTen) {
  tcp::TermReq t{};
  t.fes = static_cast<std::uint16_t>(tcp::TermFes::header_digest_error);
  std::uint32_t fei = 0x11223344;
  std::memcpy(t.fei, &fei, 4);
  const auto* b = reinterpret_cast<const std::uint8_t*>(&t);
  EXPECT_EQ(b[8], 0x03);
  EXPECT_EQ(b[10], 0x44);
  EXPECT_EQ(b[13], 0x11);
  EXPECT_EQ(tcp::expected_hlen(tcp::PduType::capsule_cmd), 72);
  EXPECT_EQ(tcp::expected_hlen(tcp::PduType::ic_resp), 128);
  EXPECT_EQ(tcp::expected_hlen(tcp::PduType::r2t), 24);
}

TEST(Wire, RdmaPrivateData) {
  rdma::CmRequest r{};
  r.qid = 1;
  r.hrqsize = 128;
  r.hsqsize = 127;
  r.cntlid = 0xFFFF;
  const auto* b = reinterpret_cast<const std::uint8_t*>(&r);
  EXPECT_EQ(b[2], 1);
  EXPECT_EQ(b[4], 128);
  EXPECT_EQ(b[6], 127);
  EXPECT_EQ(b[8], 0xFF);
  rdma::CmReject j{0, static_cast<std::uint16_t>(rdma::CmRejectStatus::invalid_hsqsize)};
  EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(&j)[2], 4);
}

TEST(Wire, LibnvmeDiscoveryEntryLayout) {
  static_assert(sizeof(nvmf_disc_log_entry) == 1024);
  EXPECT_EQ(offsetof(nvmf_disc_log_entry, trsvcid), 32u);
  EXPECT_EQ(offsetof(nvmf_disc_log_entry, subnqn), 256u);
  EXPECT_EQ(offsetof(nvmf_disc_log_entry, traddr), 512u);
  EXPECT_EQ(offsetof(nvmf_disc_log_entry, tsas), 768u);
  EXPECT_EQ(offsetof(nvmf_discovery_log, genctr), 0u);
  EXPECT_EQ(offsetof(nvmf_discovery_log, numrec), 8u);
  EXPECT_EQ(offsetof(nvmf_discovery_log, recfmt), 16u);
}
