#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fabric/tcp/codec.hpp"
#include "fabric/tcp/command_data.hpp"
#include "nvme/crc32c.hpp"
#include "nvme/fabrics.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using pdu::PduType;
using pdu::TermFes;

namespace {

pdu::CommonHeader ch(PduType t, std::uint8_t flags, std::uint8_t hlen, std::uint8_t pdo, std::uint32_t plen) {
  return {t, flags, hlen, pdo, plen};
}
ReceiveRules controller_rules(bool connected = true, Digests d = {}) {
  ReceiveRules r;
  r.role = Role::controller;
  r.connected = connected;
  r.digests = d;
  r.max_capsule_data = 8192;
  r.max_data_pdu = 65536;
  return r;
}
ReceiveRules host_rules(bool connected = true, Digests d = {}) {
  ReceiveRules r = controller_rules(connected, d);
  r.role = Role::host;
  return r;
}
void expect_error(const std::optional<FatalError>& e, TermFes fes, std::uint32_t fei) {
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->fes, fes);
  EXPECT_EQ(e->fei, fei);
}

}  // namespace

TEST(TcpCodec, IcReqAndIcRespLayouts) {
  auto req = build_ic_req(0, pdu::kDigestHeader | pdu::kDigestData, 0);
  const auto* b = reinterpret_cast<const std::uint8_t*>(&req);
  EXPECT_EQ(b[0], 0x00);
  EXPECT_EQ(b[2], 128);
  EXPECT_EQ(get_le32(b + 4), 128u);
  EXPECT_EQ(b[10], 0);
  EXPECT_EQ(b[11], 3);
  EXPECT_EQ(get_le32(b + 12), 0u);
  auto resp = build_ic_resp(0, 1, 131072);
  b = reinterpret_cast<const std::uint8_t*>(&resp);
  EXPECT_EQ(b[0], 0x01);
  EXPECT_EQ(b[1], 0);  // ICResp never carries digests
  EXPECT_EQ(b[3], 0);
  EXPECT_EQ(b[11], 1);
  EXPECT_EQ(get_le32(b + 12), 131072u);
  EXPECT_FALSE(check_ic_req(req).has_value());
}

TEST(TcpCodec, IcReqFieldErrors) {
  auto req = build_ic_req(0, 0, 0);
  req.pfv = 1;
  expect_error(check_ic_req(req), TermFes::invalid_header_field, 8);
  req = build_ic_req(32, 0, 0);
  expect_error(check_ic_req(req), TermFes::invalid_header_field, 10);
}

TEST(TcpCodec, CapsuleCmdWithDigestsAndInCapsuleData) {
  nvme::Sqe sqe{};
  sqe.opcode = 1;
  sqe.cid = 7;
  std::uint8_t out[kMaxDigestedHeader];
  auto l = build_capsule_cmd(out, sqe, {true, true}, 4096, 4);
  EXPECT_EQ(l.header_len, 76u);
  EXPECT_EQ(l.pdo, 76u);
  EXPECT_EQ(l.pad_len, 0u);
  EXPECT_EQ(l.plen, 76u + 4096 + 4);
  EXPECT_EQ(out[0], 0x04);
  EXPECT_EQ(out[1], pdu::kFlagHdgst | pdu::kFlagDdgst);
  EXPECT_EQ(out[2], 72);
  EXPECT_EQ(out[3], 76);
  EXPECT_EQ(get_le32(out + 72), nvme::crc32c(out, 72));
  EXPECT_TRUE(header_digest_ok(out, 72));
  out[20] ^= 1;
  EXPECT_FALSE(header_digest_ok(out, 72));
  // No data: PDO 0 and no DDGSTF even with data digests on (as the Linux host sends it).
  l = build_capsule_cmd(out, sqe, {true, true}, 0, 4);
  EXPECT_EQ(l.pdo, 0u);
  EXPECT_EQ(l.plen, 76u);
  EXPECT_EQ(out[1], pdu::kFlagHdgst);
}

TEST(TcpCodec, PaddingToTheReceiversAlignment) {
  std::uint8_t out[kMaxDigestedHeader];
  auto l = build_c2h_data(out, 1, 0, 512, pdu::kFlagLastPdu, {true, false}, pda_bytes(7));  // 32-byte alignment
  EXPECT_EQ(l.header_len, 28u);
  EXPECT_EQ(l.pdo, 32u);
  EXPECT_EQ(l.pad_len, 4u);
  EXPECT_EQ(l.plen, 32u + 512);
  EXPECT_EQ(out[3], 32);
}

TEST(TcpCodec, DataPdusAndR2tAndResponse) {
  std::uint8_t out[kMaxDigestedHeader];
  auto l = build_h2c_data(out, 3, 9, 4096, 8192, true, {}, 4);
  pdu::H2CData h;
  std::memcpy(&h, out, sizeof h);
  EXPECT_EQ(h.ch.pdu_type, PduType::h2c_data);
  EXPECT_EQ(h.ch.flags, pdu::kFlagLastPdu);
  EXPECT_EQ(h.cccid, 3);
  EXPECT_EQ(h.ttag, 9);
  EXPECT_EQ(h.datao, 4096u);
  EXPECT_EQ(h.datal, 8192u);
  EXPECT_EQ(l.plen, 24u + 8192);
  EXPECT_FALSE(check_data_pdu_length(h.ch, 8192).has_value());
  expect_error(check_data_pdu_length(h.ch, 100), TermFes::invalid_header_field, 16);

  l = build_c2h_data(out, 5, 0, 100, pdu::kFlagLastPdu | pdu::kFlagSuccess, {}, 4);
  EXPECT_EQ(out[1], pdu::kFlagLastPdu | pdu::kFlagSuccess);

  l = build_r2t(out, 4, 2, 0, 65536, {true, true});
  pdu::R2T r;
  std::memcpy(&r, out, sizeof r);
  EXPECT_EQ(r.ch.pdu_type, PduType::r2t);
  EXPECT_EQ(r.ch.flags, pdu::kFlagHdgst);  // no data: no DDGSTF
  EXPECT_EQ(r.ch.plen, 28u);
  EXPECT_EQ(r.r2tl, 65536u);

  nvme::Cqe cqe{};
  cqe.cid = 11;
  cqe.set_status(nvme::Status::generic(NVME_SC_INVALID_FIELD));
  l = build_capsule_resp(out, cqe, {});
  pdu::CapsuleResp resp;
  std::memcpy(&resp, out, sizeof resp);
  EXPECT_EQ(resp.ch.hlen, 24);
  EXPECT_EQ(resp.ch.plen, 24u);
  EXPECT_EQ(resp.cqe.cid, 11);
  EXPECT_TRUE(resp.cqe.get_status().same_code(nvme::Status::generic(NVME_SC_INVALID_FIELD)));
}

TEST(TcpCodec, TermReqCarriesFesFeiAtOffset10AndTheHeader) {
  std::uint8_t offending[200];
  for (int i = 0; i < 200; ++i) offending[i] = static_cast<std::uint8_t>(i);
  std::uint8_t out[kTermReqBufferSize];
  std::uint32_t plen = build_term_req(out, PduType::c2h_term_req, {TermFes::data_transfer_out_of_range, 0x01020304},
                                      offending, 200);
  EXPECT_EQ(plen, 24u + 128);
  EXPECT_EQ(out[0], 0x03);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[2], 24);
  EXPECT_EQ(out[3], 0);
  EXPECT_EQ(get_le32(out + 4), plen);
  EXPECT_EQ(out[8], 0x04);
  EXPECT_EQ(out[9], 0x00);
  EXPECT_EQ(get_le32(out + 10), 0x01020304u);
  EXPECT_EQ(std::memcmp(out + 24, offending, 128), 0);
  plen = build_term_req(out, PduType::h2c_term_req, {TermFes::pdu_sequence_error, 0}, offending, 8);
  EXPECT_EQ(plen, 32u);
  EXPECT_EQ(out[0], 0x02);
}

TEST(TcpCodec, DataDigestOverScatterRange) {
  std::vector<std::uint8_t> a(100), b(50);
  for (int i = 0; i < 100; ++i) a[i] = static_cast<std::uint8_t>(i);
  for (int i = 0; i < 50; ++i) b[i] = static_cast<std::uint8_t>(100 + i);
  std::vector<std::uint8_t> flat(a);
  flat.insert(flat.end(), b.begin(), b.end());
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  EXPECT_EQ(data_digest(iov, 2, 0, 150), nvme::crc32c(flat.data(), 150));
  EXPECT_EQ(data_digest(iov, 2, 90, 30), nvme::crc32c(flat.data() + 90, 30));
  EXPECT_EQ(nvme::crc32c("123456789", 9), 0xE3069283u);  // CRC32C check value
}

TEST(TcpCodec, DataDigestUpdatedInPiecesEqualsOnePass) {
  // A receiver folds in each chunk as it arrives: any cut of the range, across and inside iovecs, gives the
  // one-pass digest.
  std::vector<std::uint8_t> a(100), b(50);
  for (int i = 0; i < 100; ++i) a[i] = static_cast<std::uint8_t>(i * 13 + 1);
  for (int i = 0; i < 50; ++i) b[i] = static_cast<std::uint8_t>(i * 7 + 5);
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  const std::uint32_t whole = data_digest(iov, 2, 10, 130);
  for (std::size_t cut = 0; cut <= 130; ++cut) {
    std::uint32_t state = data_digest_update(nvme::kCrc32cSeed, iov, 2, 10, cut);
    state = data_digest_update(state, iov, 2, 10 + cut, 130 - cut);
    EXPECT_EQ(nvme::crc32c_finish(state), whole) << "cut at " << cut;
  }
  EXPECT_NE(data_digest(iov, 2, 10, 129), whole);
}

TEST(TcpCodec, AcceptsWellFormedHeaders) {
  EXPECT_FALSE(check_common_header(ch(PduType::ic_req, 0, 128, 0, 128), controller_rules(false)));
  EXPECT_FALSE(check_common_header(ch(PduType::capsule_cmd, 0, 72, 0, 72), controller_rules()));
  EXPECT_FALSE(check_common_header(ch(PduType::capsule_cmd, 0, 72, 72, 72 + 4096), controller_rules()));
  EXPECT_FALSE(check_common_header(ch(PduType::capsule_cmd, 3, 72, 76, 76 + 4096 + 4), controller_rules(true, {true, true})));
  EXPECT_FALSE(check_common_header(ch(PduType::h2c_data, 4, 24, 24, 24 + 65536), controller_rules()));
  EXPECT_FALSE(check_common_header(ch(PduType::h2c_term_req, 0, 24, 0, 24 + 72), controller_rules()));
  EXPECT_FALSE(check_common_header(ch(PduType::ic_resp, 0, 128, 0, 128), host_rules(false)));
  EXPECT_FALSE(check_common_header(ch(PduType::c2h_data, 12, 24, 24, 24 + 512), host_rules()));
  EXPECT_FALSE(check_common_header(ch(PduType::r2t, 0, 24, 0, 24), host_rules()));
  EXPECT_FALSE(check_common_header(ch(PduType::capsule_resp, 1, 24, 0, 28), host_rules(true, {true, false})));
  auto c = ch(PduType::capsule_cmd, 0, 72, 80, 80 + 10);  // padding the host chose
  EXPECT_FALSE(check_common_header(c, controller_rules()));
  EXPECT_EQ(received_pad_length(c), 8u);
  EXPECT_EQ(received_data_length(c), 10u);
}

TEST(TcpCodec, RejectsUnknownOrWrongDirectionTypes) {
  expect_error(check_common_header(ch(static_cast<PduType>(0x0A), 0, 24, 0, 24), controller_rules()),
               TermFes::invalid_header_field, 0);
  expect_error(check_common_header(ch(PduType::capsule_resp, 0, 24, 0, 24), controller_rules()),
               TermFes::invalid_header_field, 0);
  expect_error(check_common_header(ch(PduType::h2c_data, 0, 24, 24, 48), host_rules()),
               TermFes::invalid_header_field, 0);
}

TEST(TcpCodec, SequenceErrors) {
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 0, 72), controller_rules(false)),
               TermFes::pdu_sequence_error, 0);
  expect_error(check_common_header(ch(PduType::ic_req, 0, 128, 0, 128), controller_rules(true)),
               TermFes::pdu_sequence_error, 0);
  expect_error(check_common_header(ch(PduType::ic_resp, 0, 128, 0, 128), host_rules(true)),
               TermFes::pdu_sequence_error, 0);
  expect_error(check_common_header(ch(PduType::r2t, 0, 24, 0, 24), host_rules(false)), TermFes::pdu_sequence_error, 0);
}

TEST(TcpCodec, HlenFlagsPdoPlenErrors) {
  auto rules = controller_rules();
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 70, 0, 72), rules), TermFes::invalid_header_field, 2);
  // Header digest flag must match the negotiation, both ways.
  expect_error(check_common_header(ch(PduType::capsule_cmd, 1, 72, 0, 76), rules), TermFes::invalid_header_field, 1);
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 0, 72), controller_rules(true, {true, false})),
               TermFes::invalid_header_field, 1);
  // Data digest flag: required with data when negotiated, forbidden without data.
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 72, 72 + 16), controller_rules(true, {false, true})),
               TermFes::invalid_header_field, 1);
  expect_error(check_common_header(ch(PduType::capsule_cmd, 2, 72, 0, 72), controller_rules(true, {false, true})),
               TermFes::invalid_header_field, 1);
  expect_error(check_common_header(ch(PduType::ic_req, 1, 128, 0, 132), controller_rules(false)),
               TermFes::invalid_header_field, 1);
  // SUCCESS without LAST_PDU.
  expect_error(check_common_header(ch(PduType::c2h_data, pdu::kFlagSuccess, 24, 24, 48), host_rules()),
               TermFes::invalid_header_field, 1);
  // PDO inside the header, misaligned, or on a PDU without data.
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 10, 72 + 16), rules), TermFes::invalid_header_field, 3);
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 74, 74 + 16), rules), TermFes::invalid_header_field, 3);
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 72, 72), rules), TermFes::invalid_header_field, 3);
  expect_error(check_common_header(ch(PduType::r2t, 0, 24, 24, 24), host_rules()), TermFes::invalid_header_field, 3);
  // PLEN below the header, not matching a fixed-size PDU, data PDU without data.
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 0, 40), rules), TermFes::invalid_header_field, 4);
  expect_error(check_common_header(ch(PduType::ic_req, 0, 128, 0, 200), controller_rules(false)),
               TermFes::invalid_header_field, 4);
  expect_error(check_common_header(ch(PduType::h2c_data, 4, 24, 0, 24), rules), TermFes::invalid_header_field, 4);
  expect_error(check_common_header(ch(PduType::h2c_term_req, 0, 24, 0, 24 + 129), rules),
               TermFes::invalid_header_field, 4);
}

TEST(TcpCodec, DataLimits) {
  auto rules = controller_rules();
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 72, 72 + 8193), rules),
               TermFes::data_transfer_limit_exceeded, 4);
  expect_error(check_common_header(ch(PduType::capsule_cmd, 0, 72, 72, 0xFFFFFFFFu), rules),
               TermFes::data_transfer_limit_exceeded, 4);
  expect_error(check_common_header(ch(PduType::h2c_data, 4, 24, 24, 24 + 65537), rules),
               TermFes::data_transfer_limit_exceeded, 4);
  EXPECT_FALSE(check_common_header(ch(PduType::capsule_cmd, 0, 72, 72, 72 + 8192), rules));
}

// --- Command data (SGL) parsing.
namespace {
nvme::Sqe sqe_with(std::uint8_t opcode, nvme::SglType t, nvme::SglSubtype s, std::uint32_t len, std::uint64_t addr = 0) {
  nvme::Sqe sqe{};
  sqe.opcode = opcode;
  sqe.flags = nvme::kPsdtSgl;
  sqe.dptr.address = addr;
  sqe.dptr.length = len;
  sqe.dptr.id = nvme::SglDescriptor::make_id(t, s);
  return sqe;
}
}  // namespace

TEST(TcpCommandData, InCapsuleAndTransportSgls) {
  auto d = parse_command_data(sqe_with(0x01, nvme::SglType::data_block, nvme::SglSubtype::offset, 4096), 4096, 131072);
  EXPECT_TRUE(d.status.ok());
  EXPECT_TRUE(d.in_capsule);
  EXPECT_EQ(d.length, 4096u);
  d = parse_command_data(
      sqe_with(0x02, nvme::SglType::transport_data_block, nvme::SglSubtype::transport_specific, 131072), 0, 131072);
  EXPECT_TRUE(d.status.ok());
  EXPECT_FALSE(d.in_capsule);
  EXPECT_EQ(d.length, 131072u);
}

TEST(TcpCommandData, SglErrors) {
  auto expect_sc = [](const CommandData& d, std::uint8_t sc) {
    EXPECT_EQ(d.status.sct(), NVME_SCT_GENERIC);
    EXPECT_EQ(d.status.sc(), sc);
    EXPECT_TRUE(d.status.dnr());
  };
  expect_sc(parse_command_data(
                sqe_with(0x02, nvme::SglType::transport_data_block, nvme::SglSubtype::transport_specific, 131073), 0,
                131072),
            NVME_SC_SGL_INVALID_DATA);
  expect_sc(parse_command_data(sqe_with(0x01, nvme::SglType::keyed_data_block, nvme::SglSubtype::address, 512), 0,
                               131072),
            NVME_SC_SGL_INVALID_TYPE);
  expect_sc(parse_command_data(sqe_with(0x01, nvme::SglType::data_block, nvme::SglSubtype::offset, 512, 16), 512,
                               131072),
            NVME_SC_SGL_INVALID_OFFSET);
  expect_sc(parse_command_data(sqe_with(0x01, nvme::SglType::data_block, nvme::SglSubtype::offset, 1024), 512, 131072),
            NVME_SC_SGL_INVALID_DATA);
  expect_sc(parse_command_data(sqe_with(0x02, nvme::SglType::data_block, nvme::SglSubtype::offset, 512), 512, 131072),
            NVME_SC_INVALID_FIELD);
  auto prp = sqe_with(0x01, nvme::SglType::data_block, nvme::SglSubtype::offset, 512);
  prp.flags = 0;
  expect_sc(parse_command_data(prp, 512, 131072), NVME_SC_INVALID_FIELD);
}
