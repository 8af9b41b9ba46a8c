// Abort support in the NVMe/TCP controller queue (ControllerQueue::cancel): with max_r2t_commands reached, a
// later write waits for its first R2T and can still be withdrawn; a write whose R2T went out cannot (the host
// may be sending to its TTAG), and neither can a command the queue no longer holds.
#include <gtest/gtest.h>

#include "tcp_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace nvmf::fabric::tcp::testing;
using pdu::PduType;

namespace {

constexpr std::uint32_t kLength = 16 * 1024;  // above the 8 KiB in-capsule size: moved by R2T
const nvme::Status kAbortRequested = nvme::Status::generic(NVME_SC_ABORT_REQ);

ControllerQueueConfig one_r2t_command() {
  auto config = TestServer::default_config();
  config.limits.max_r2t_commands = 1;
  return config;
}

nvme::Cqe expect_resp(RawClient& c, std::uint16_t cid) {
  Bytes p = c.recv_pdu();
  EXPECT_EQ(common(p).pdu_type, PduType::capsule_resp);
  auto r = as<pdu::CapsuleResp>(p);
  EXPECT_EQ(r.cqe.cid, cid);
  return r.cqe;
}

pdu::R2T expect_r2t(RawClient& c, std::uint16_t cid) {
  auto r = as<pdu::R2T>(c.recv_pdu());
  EXPECT_EQ(r.ch.pdu_type, PduType::r2t);
  EXPECT_EQ(r.cccid, cid);
  EXPECT_EQ(r.r2to, 0u);
  EXPECT_EQ(r.r2tl, kLength);
  return r;
}

/// Asks the handler to withdraw `victim`; returns the cancelling command's dw0 (0: withdrawn).
void send_cancel(RawClient& c, std::uint16_t cid, std::uint16_t victim) {
  nvme::Sqe s = make_sqe(0x00, cid, 0, kCancel);
  s.cdw14 = victim;
  c.send_command(s, {});
}

void send_write_data(RawClient& c, std::uint16_t cid, std::uint16_t ttag, std::uint32_t seed) {
  c.send_h2c(cid, ttag, 0, pattern(seed, kLength), true);
}

}  // namespace

TEST(TcpAbort, WriteWaitingForItsFirstR2tIsWithdrawn) {
  TestServer server(one_r2t_command());
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 1, 11), {}, kLength);
  auto r2t = expect_r2t(c, 1);
  c.send_command(make_sqe(0x01, 2, 12), {}, kLength);  // waits: one command at a time gets R2Ts
  send_cancel(c, 3, 2);
  EXPECT_TRUE(expect_resp(c, 2).get_status().same_code(kAbortRequested));
  auto cancel = expect_resp(c, 3);
  EXPECT_TRUE(cancel.get_status().ok());
  EXPECT_EQ(cancel.dw0, 0u);
  // The first write goes on untouched; the withdrawn one never gets an R2T: the next PDU answers command 4.
  send_write_data(c, 1, r2t.ttag, 11);
  EXPECT_TRUE(expect_resp(c, 1).get_status().ok());
  c.send_command(make_sqe(0x00, 4), {});
  EXPECT_TRUE(expect_resp(c, 4).get_status().ok());
  EXPECT_EQ(server.stats.writes_verified.load(), 1);
}

TEST(TcpAbort, WriteWhoseR2tWasSentIsNotWithdrawn) {
  TestServer server(one_r2t_command());
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 1, 21), {}, kLength);
  auto r2t = expect_r2t(c, 1);
  send_cancel(c, 2, 1);
  auto cancel = expect_resp(c, 2);
  EXPECT_EQ(cancel.dw0, 1u);  // not aborted: the TTAG stays valid and the data is accepted
  send_write_data(c, 1, r2t.ttag, 21);
  EXPECT_TRUE(expect_resp(c, 1).get_status().ok());
  EXPECT_EQ(server.stats.writes_verified.load(), 1);
}

TEST(TcpAbort, WithoutALimitEveryWriteGetsItsR2tAtOnceAndNoneIsWithdrawn) {
  TestServer server;  // max_r2t_commands = 0: as the Linux target
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 1, 31), {}, kLength);
  c.send_command(make_sqe(0x01, 2, 32), {}, kLength);
  auto r1 = expect_r2t(c, 1);
  auto r2 = expect_r2t(c, 2);
  send_cancel(c, 3, 2);
  EXPECT_EQ(expect_resp(c, 3).dw0, 1u);
  send_write_data(c, 2, r2.ttag, 32);
  send_write_data(c, 1, r1.ttag, 31);
  EXPECT_TRUE(expect_resp(c, 2).get_status().ok());
  EXPECT_TRUE(expect_resp(c, 1).get_status().ok());
  EXPECT_EQ(server.stats.writes_verified.load(), 2);
}

TEST(TcpAbort, WaitingWriteGetsItsR2tWhenThePreviousTransferEnds) {
  TestServer server(one_r2t_command());
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 1, 41), {}, kLength);
  c.send_command(make_sqe(0x01, 2, 42), {}, kLength);
  auto r1 = expect_r2t(c, 1);
  send_write_data(c, 1, r1.ttag, 41);
  // The first write's data is in: its R2T place goes to the waiting write before the first one completes.
  auto r2 = expect_r2t(c, 2);
  EXPECT_TRUE(expect_resp(c, 1).get_status().ok());
  send_write_data(c, 2, r2.ttag, 42);
  EXPECT_TRUE(expect_resp(c, 2).get_status().ok());
  // Completed: nothing left to withdraw.
  send_cancel(c, 3, 2);
  EXPECT_EQ(expect_resp(c, 3).dw0, 1u);
  EXPECT_EQ(server.stats.writes_verified.load(), 2);
}

TEST(TcpAbort, H2cDataForAWaitingWriteIsAProtocolError) {
  TestServer server(one_r2t_command());
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 1, 51), {}, kLength);
  auto r1 = expect_r2t(c, 1);
  c.send_command(make_sqe(0x01, 2, 52), {}, kLength);
  // The second write's TTAG was never given out; any TTAG other than the first write's names no transfer.
  const auto other = static_cast<std::uint16_t>(r1.ttag == 0 ? 1 : r1.ttag - 1);
  send_write_data(c, 2, other, 52);
  Bytes p = c.recv_pdu();
  EXPECT_EQ(common(p).pdu_type, PduType::c2h_term_req);
  EXPECT_TRUE(c.peer_closed());
}
