// TcpControllerQueue through its public seam: a raw client writes PDUs to a listener and reads PDUs back.
#include <gtest/gtest.h>

#include "tcp_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace nvmf::fabric::tcp::testing;
using pdu::PduType;
using pdu::TermFes;

namespace {

nvme::Cqe expect_resp(RawClient& c, std::uint16_t cid) {
  Bytes p = c.recv_pdu();
  EXPECT_EQ(common(p).pdu_type, PduType::capsule_resp);
  auto r = as<pdu::CapsuleResp>(p);
  EXPECT_EQ(r.cqe.cid, cid);
  return r.cqe;
}

/// The connection ends with a C2HTermReq carrying fes/fei and the start of the offending header.
void expect_term_req(RawClient& c, TermFes fes, std::uint32_t fei, const Bytes& offending_prefix = {}) {
  Bytes p = c.recv_pdu();
  ASSERT_FALSE(p.empty()) << "no C2HTermReq before the connection closed";
  EXPECT_EQ(common(p).pdu_type, PduType::c2h_term_req);
  EXPECT_EQ(common(p).hlen, 24);
  EXPECT_EQ(common(p).flags, 0);
  EXPECT_EQ(p[8] | p[9] << 8, static_cast<int>(fes));
  EXPECT_EQ(get_le32(p.data() + 10), fei);
  ASSERT_GE(p.size(), 24 + offending_prefix.size());
  EXPECT_TRUE(std::equal(offending_prefix.begin(), offending_prefix.end(), p.begin() + 24));
  EXPECT_TRUE(c.peer_closed());
}

}  // namespace

TEST(TcpController, IcRespAnswersTheIcReq) {
  TestServer server;
  for (std::uint8_t dgst : {0, 1, 2, 3}) {
    RawClient c(server.port());
    auto r = c.handshake(dgst);
    EXPECT_EQ(r.ch.pdu_type, PduType::ic_resp);
    EXPECT_EQ(r.ch.flags, 0);
    EXPECT_EQ(r.ch.hlen, 128);
    EXPECT_EQ(r.ch.plen, 128u);
    EXPECT_EQ(r.pfv, 0);
    EXPECT_EQ(r.cpda, 0);
    EXPECT_EQ(r.dgst, dgst);
    EXPECT_EQ(r.maxh2cdata, 128u * 1024);
  }
}

TEST(TcpController, InCapsuleWriteAndReadWithResponse) {
  TestServer server;
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 5, 42), pattern(42, 4096));
  auto cqe = expect_resp(c, 5);
  EXPECT_TRUE(cqe.get_status().ok());
  EXPECT_EQ(server.stats.writes_verified.load(), 1);
  // Corrupted data reaches the handler, which reports it: proves the bytes really were checked.
  Bytes bad = pattern(42, 4096);
  bad[100] ^= 0xFF;
  c.send_command(make_sqe(0x01, 6, 42), bad);
  EXPECT_TRUE(expect_resp(c, 6).get_status().same_code(kCompareFailed));

  c.send_command(make_sqe(0x02, 7, 9), {}, 8192);
  Bytes d = c.recv_pdu();
  auto h = as<pdu::C2HData>(d);
  EXPECT_EQ(h.ch.pdu_type, PduType::c2h_data);
  EXPECT_EQ(h.ch.flags, pdu::kFlagLastPdu);  // SQ flow control on: a CapsuleResp follows
  EXPECT_EQ(h.cccid, 7);
  EXPECT_EQ(h.datao, 0u);
  EXPECT_EQ(h.datal, 8192u);
  ASSERT_EQ(d.size(), h.ch.pdo + 8192u);
  EXPECT_EQ(Bytes(d.begin() + h.ch.pdo, d.end()), pattern(9, 8192));
  EXPECT_TRUE(expect_resp(c, 7).get_status().ok());
}

TEST(TcpController, R2tWriteOfOneMiBSplitByMaxH2cData) {
  auto config = TestServer::default_config();
  config.limits.max_io_size = 1 << 20;
  config.max_h2c_data = 256 * 1024;
  TestServer server(config, 1 << 20);
  RawClient c(server.port());
  auto ic = c.handshake();
  EXPECT_EQ(ic.maxh2cdata, 256u * 1024);
  const Bytes data = pattern(77, 1 << 20);
  c.send_command(make_sqe(0x01, 3, 77), {}, 1 << 20);
  std::uint32_t expected_offset = 0;
  while (expected_offset < data.size()) {
    Bytes p = c.recv_pdu();
    auto r = as<pdu::R2T>(p);
    ASSERT_EQ(r.ch.pdu_type, PduType::r2t);
    EXPECT_EQ(r.cccid, 3);
    EXPECT_EQ(r.r2to, expected_offset);  // MAXR2T 0: one R2T at a time, in order
    EXPECT_EQ(r.r2tl, 256u * 1024);
    // Answer with four 64 KiB H2CData PDUs, LAST_PDU on the last.
    for (std::uint32_t off = r.r2to; off < r.r2to + r.r2tl; off += 65536) {
      Bytes chunk(data.begin() + off, data.begin() + off + 65536);
      c.send_h2c(3, r.ttag, off, chunk, off + 65536 == r.r2to + r.r2tl);
    }
    expected_offset += r.r2tl;
  }
  EXPECT_TRUE(expect_resp(c, 3).get_status().ok());
  EXPECT_EQ(server.stats.writes_verified.load(), 1);
}

TEST(TcpController, MaxR2tAllowsSeveralOutstanding) {
  auto config = TestServer::default_config();
  config.max_h2c_data = 32 * 1024;
  TestServer server(config);
  RawClient c(server.port());
  c.handshake(0, /*maxr2t=*/1);  // two outstanding R2Ts per command
  const Bytes data = pattern(5, 128 * 1024);
  c.send_command(make_sqe(0x01, 1, 5), {}, 128 * 1024);
  auto r1 = as<pdu::R2T>(c.recv_pdu());
  auto r2 = as<pdu::R2T>(c.recv_pdu());
  EXPECT_EQ(r1.r2to, 0u);
  EXPECT_EQ(r2.r2to, 32u * 1024);
  for (std::uint32_t off = 0; off < data.size(); off += 32 * 1024) {
    if (off >= 64 * 1024) {
      auto r = as<pdu::R2T>(c.recv_pdu());
      ASSERT_EQ(r.ch.pdu_type, PduType::r2t);
      EXPECT_EQ(r.r2to, off);
    }
    c.send_h2c(1, r1.ttag, off, Bytes(data.begin() + off, data.begin() + off + 32 * 1024), true);
  }
  EXPECT_TRUE(expect_resp(c, 1).get_status().ok());
}

TEST(TcpController, SuccessFlagReplacesResponseWhenSqFlowControlIsDisabled) {
  TestServer server;
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_connect(1, 1, 31, true), Bytes(1024, 0));
  auto cqe = expect_resp(c, 1);
  EXPECT_TRUE(cqe.get_status().ok());
  EXPECT_EQ(cqe.sqid, 1);
  c.send_command(make_sqe(0x02, 2, 3), {}, 4096);
  auto h = as<pdu::C2HData>(c.recv_pdu());
  EXPECT_EQ(h.ch.flags, pdu::kFlagLastPdu | pdu::kFlagSuccess);
  // A result in DW0 needs the CapsuleResp even then.
  c.send_command(make_sqe(0x02, 3, 3, kSetDw0), {}, 4096);
  h = as<pdu::C2HData>(c.recv_pdu());
  EXPECT_EQ(h.cccid, 3);  // nothing for CID 2 came in between
  EXPECT_EQ(h.ch.flags, pdu::kFlagLastPdu);
  EXPECT_EQ(expect_resp(c, 3).dw0, 0x1234u);
}

TEST(TcpController, SqHeadAdvancesPerCommandModuloDepth) {
  TestServer server;
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_connect(1, 1, 3, false), Bytes(1024, 0));  // depth 4
  EXPECT_EQ(expect_resp(c, 1).sqhd, 1);
  for (std::uint16_t i = 0; i < 5; ++i) {
    c.send_command(make_sqe(0x00, 10 + i), {});
    EXPECT_EQ(expect_resp(c, 10 + i).sqhd, (2 + i) % 4);
  }
}

TEST(TcpController, DigestsOnBothWays) {
  TestServer server;
  RawClient c(server.port());
  c.handshake(pdu::kDigestHeader | pdu::kDigestData);
  c.send_command(make_sqe(0x01, 1, 8), pattern(8, 2000));
  Bytes p = c.recv_pdu();
  EXPECT_EQ(common(p).flags, pdu::kFlagHdgst);
  EXPECT_EQ(common(p).plen, 28u);
  EXPECT_TRUE(header_digest_ok(p.data(), 24));
  EXPECT_TRUE(as<pdu::CapsuleResp>(p).cqe.get_status().ok());
  c.send_command(make_sqe(0x02, 2, 8), {}, 3000);
  Bytes d = c.recv_pdu();
  auto h = as<pdu::C2HData>(d);
  EXPECT_EQ(h.ch.flags, pdu::kFlagHdgst | pdu::kFlagDdgst | pdu::kFlagLastPdu);
  EXPECT_TRUE(header_digest_ok(d.data(), 24));
  ASSERT_EQ(d.size(), h.ch.pdo + 3000u + 4);
  Bytes payload(d.begin() + h.ch.pdo, d.end() - 4);
  EXPECT_EQ(payload, pattern(8, 3000));
  EXPECT_EQ(get_le32(d.data() + d.size() - 4), nvme::crc32c(payload.data(), payload.size()));
  EXPECT_TRUE(expect_resp(c, 2).get_status().ok());
}

TEST(TcpController, DataDigestErrorCompletesWithTransientTransportError) {
  TestServer server;
  RawClient c(server.port());
  c.handshake(pdu::kDigestData);
  nvme::Sqe sqe = make_sqe(0x01, 4, 1);
  sqe.flags = nvme::kPsdtSgl;
  sqe.dptr.length = 512;
  sqe.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::data_block, nvme::SglSubtype::offset);
  std::uint8_t head[kMaxDigestedHeader];
  auto l = build_capsule_cmd(head, sqe, c.digests, 512, 4);
  c.send(head, l.header_len);
  Bytes data = pattern(1, 512);
  c.send(data);
  std::uint8_t wrong[4] = {1, 2, 3, 4};
  c.send(wrong, 4);
  auto cqe = expect_resp(c, 4);
  EXPECT_EQ(cqe.get_status().sc(), NVME_SC_TRAN_TPORT_ERROR);
  EXPECT_EQ(server.stats.commands.load(), 0);  // the handler never saw it
  c.send_command(make_sqe(0x01, 5, 1), data);  // the connection still works
  EXPECT_TRUE(expect_resp(c, 5).get_status().ok());
}

TEST(TcpController, SglErrorsAreAnsweredWithoutTheHandler) {
  TestServer server;
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x02, 1), {}, 128 * 1024 + 4096);
  EXPECT_EQ(expect_resp(c, 1).get_status().sc(), NVME_SC_SGL_INVALID_DATA);
  nvme::Sqe keyed = make_sqe(0x02, 2);
  keyed.flags = nvme::kPsdtSgl;
  keyed.dptr.length = 4096;
  keyed.dptr.id = nvme::SglDescriptor::make_id(nvme::SglType::keyed_data_block, nvme::SglSubtype::address);
  c.send_raw_command(keyed, {});
  EXPECT_EQ(expect_resp(c, 2).get_status().sc(), NVME_SC_SGL_INVALID_TYPE);
  EXPECT_EQ(server.stats.commands.load(), 0);
}

// --- Malformed PDUs: each ends in the right C2HTermReq and a close, while another connection keeps working.
struct MalformedCase {
  const char* name;
  std::uint8_t dgst;  // digests asked in the ICReq (0xFF: no ICReq at all)
  TermFes fes;
  std::uint32_t fei;
  Bytes (*make)();    // bytes sent after the handshake
};

Bytes capsule_header(std::uint8_t flags, std::uint8_t hlen, std::uint8_t pdo, std::uint32_t plen) {
  Bytes b(72, 0);
  pdu::CommonHeader ch{PduType::capsule_cmd, flags, hlen, pdo, plen};
  std::memcpy(b.data(), &ch, sizeof ch);
  return b;
}

const MalformedCase kMalformed[] = {
    {"UnknownType", 0, TermFes::invalid_header_field, 0,
     [] { Bytes b(24, 0); b[0] = 0x0A; b[2] = 24; b[4] = 24; return b; }},
    {"WrongHlen", 0, TermFes::invalid_header_field, 2, [] { return capsule_header(0, 70, 0, 72); }},
    {"PdoInsideHeader", 0, TermFes::invalid_header_field, 3, [] { return capsule_header(0, 72, 10, 72 + 16); }},
    {"PlenBelowHeader", 0, TermFes::invalid_header_field, 4, [] { return capsule_header(0, 72, 0, 40); }},
    {"PlenFourGiB", 0, TermFes::data_transfer_limit_exceeded, 4,
     [] { return capsule_header(0, 72, 72, 0xFFFFFFFFu); }},
    {"InCapsuleOverAdminLimit", 0, TermFes::data_transfer_limit_exceeded, 4,
     [] { return capsule_header(0, 72, 72, 72 + 8192 + 4); }},
    {"BadHeaderDigest", 1, TermFes::header_digest_error, 0,
     [] {
       Bytes b(76, 0xEE);  // header digest bytes that cannot match
       Bytes h = capsule_header(1, 72, 0, 76);
       std::copy(h.begin(), h.end(), b.begin());
       return b;
     }},
    {"MissingHeaderDigestFlag", 1, TermFes::invalid_header_field, 1, [] { return capsule_header(0, 72, 0, 72); }},
    {"SecondIcReq", 0, TermFes::pdu_sequence_error, 0,
     [] { auto r = build_ic_req(0, 0, 0); Bytes b(128); std::memcpy(b.data(), &r, 128); return b; }},
    {"CapsuleBeforeIcReq", 0xFF, TermFes::pdu_sequence_error, 0, [] { return capsule_header(0, 72, 0, 72); }},
    {"H2cDataUnknownTtag", 0, TermFes::invalid_header_field, 10,
     [] {
       std::uint8_t h[kMaxDigestedHeader];
       build_h2c_data(h, 1, 17, 0, 16, true, {}, 4);
       Bytes b(24 + 16, 0);
       std::memcpy(b.data(), h, 24);
       return b;
     }},
};

class TcpControllerMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(TcpControllerMalformed, SendsTermReqAndCloses) {
  const MalformedCase& m = GetParam();
  TestServer server;
  RawClient bystander(server.port());
  bystander.handshake();
  {
    RawClient c(server.port());
    if (m.dgst != 0xFF) c.handshake(m.dgst);
    Bytes bad = m.make();
    c.send(bad);
    expect_term_req(c, m.fes, m.fei, Bytes(bad.begin(), bad.begin() + 8));
  }
  bystander.send_command(make_sqe(0x01, 1, 3), pattern(3, 4096));
  EXPECT_TRUE(expect_resp(bystander, 1).get_status().ok());
  EXPECT_TRUE(wait_until([&] { return server.stats.closed.load() == 1 && server.stats.destroyed.load() == 1; }));
}

INSTANTIATE_TEST_SUITE_P(Cases, TcpControllerMalformed, ::testing::ValuesIn(kMalformed),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(TcpController, H2cDataOutsideTheR2tWindow) {
  TestServer server;
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 2, 1), {}, 16384);
  auto r = as<pdu::R2T>(c.recv_pdu());
  ASSERT_EQ(r.ch.pdu_type, PduType::r2t);
  c.send_h2c(2, r.ttag, 4096, Bytes(4096, 0), false);  // must start at 0
  expect_term_req(c, TermFes::data_transfer_out_of_range, 12);
}

TEST(TcpController, H2cDataPastTheEnd) {
  TestServer server;
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x01, 2, 1), {}, 8192);
  auto r = as<pdu::R2T>(c.recv_pdu());
  c.send_h2c(2, r.ttag, 0, Bytes(12288, 0), true);
  expect_term_req(c, TermFes::data_transfer_out_of_range, 16);
}

TEST(TcpController, PeerClosingMidPduClosesTheQueueOnce) {
  TestServer server;
  {
    RawClient c(server.port());
    c.handshake();
    Bytes half = capsule_header(0, 72, 72, 72 + 4096);
    half.resize(72 + 100, 0);
    c.send(half);
  }
  EXPECT_TRUE(wait_until([&] { return server.stats.destroyed.load() == 1; }));
  EXPECT_EQ(server.stats.closed.load(), 1);
  EXPECT_EQ(server.stats.commands.load(), 0);
}

// In-capsule data is lent to the handler from the receive buffer on I/O queues (ControllerRequest::
// data_borrowed), and verified there; a held request keeps a copy (keep_data) while later capsules overwrite
// the buffer. On the admin queue nothing is lent.
TEST(TcpController, InCapsuleDataIsLentOnIoQueuesOnly) {
  TestServer server;
  {
    RawClient admin(server.port());
    admin.handshake();
    admin.send_command(make_connect(1, 0, 31, false), Bytes(1024, 0));
    ASSERT_TRUE(expect_resp(admin, 1).get_status().ok());
    admin.send_command(make_sqe(0x01, 2, 42), pattern(42, 4096));
    EXPECT_TRUE(expect_resp(admin, 2).get_status().ok());
    EXPECT_EQ(server.stats.borrowed.load(), 0);
  }
  RawClient io(server.port());
  io.handshake();
  io.send_command(make_connect(1, 1, 31, false), Bytes(1024, 0));
  ASSERT_TRUE(expect_resp(io, 1).get_status().ok());
  io.send_write_in_one_piece(make_sqe(0x01, 2, 7, kHold), pattern(7, 4096));  // kept: held past on_command
  for (std::uint16_t cid = 3; cid < 23; ++cid) {
    io.send_write_in_one_piece(make_sqe(0x01, cid, cid), pattern(cid, 4096));
    EXPECT_TRUE(expect_resp(io, cid).get_status().ok());
  }
  Bytes bad = pattern(23, 4096);
  bad[4000] ^= 0xFF;
  io.send_write_in_one_piece(make_sqe(0x01, 23, 23), bad);
  EXPECT_TRUE(expect_resp(io, 23).get_status().same_code(kCompareFailed));
  EXPECT_EQ(server.stats.borrowed.load(), 22);
  EXPECT_EQ(server.stats.writes_verified.load(), 1 + 20);
  io.close();  // the handler checks the held write's kept copy as it completes it
  ASSERT_TRUE(wait_until([&] { return server.stats.closed.load() == 2; }));
  EXPECT_EQ(server.stats.writes_verified.load(), 1 + 20 + 1);
}

TEST(TcpController, HeldRequestsCompletedAfterCloseAreRecycled) {
  TestServer server;
  {
    RawClient c(server.port());
    c.handshake();
    c.send_command(make_sqe(0x02, 1, 0, kHold), {}, 4096);
    c.send_command(make_sqe(0x01, 2, 0, kHold), pattern(0, 512));
    ASSERT_TRUE(wait_until([&] { return server.stats.commands.load() == 2; }));
  }
  // The handler completes both from on_queue_closed; only then may the queue go away.
  EXPECT_TRUE(wait_until([&] { return server.stats.destroyed.load() == 1; }));
  EXPECT_EQ(server.stats.closed.load(), 1);
}

TEST(TcpController, CloseFromTheHandlerEndsTheConnection) {
  TestServer server;
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_sqe(0x00, 9, 0, kCloseQueue), {});
  // The response queued before close() may or may not make it; the connection must end either way.
  Bytes p = c.recv_pdu();
  if (!p.empty()) {
    EXPECT_EQ(common(p).pdu_type, PduType::capsule_resp);
  }
  EXPECT_TRUE(c.peer_closed());
  EXPECT_TRUE(wait_until([&] { return server.stats.destroyed.load() == 1; }));
}

TEST(TcpController, FullQueueStallsInsteadOfFailing) {
  auto config = TestServer::default_config();
  config.limits.max_queue_depth = 2;
  TestServer server(config);
  RawClient c(server.port());
  c.handshake();
  // Two held requests fill the pool; a third capsule waits in the socket until one is recycled.
  c.send_command(make_sqe(0x00, 1, 0, kHold), {});
  c.send_command(make_sqe(0x00, 2, 0, kHold), {});
  c.send_command(make_sqe(0x00, 3), {});
  ASSERT_TRUE(wait_until([&] { return server.stats.commands.load() == 2; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server.stats.commands.load(), 2);
  c.close();
  EXPECT_TRUE(wait_until([&] { return server.stats.destroyed.load() == 1; }));
}

TEST(TcpListener, BindFailureNamesTheAddress) {
  TestServer server;
  ReactorGroup group({-1});
  HandlerStats stats;
  EchoFactory factory(stats);
  try {
    listen_tcp(group, {TransportType::tcp, false, "127.0.0.1", server.port()}, TransportLimits{}, factory);
    FAIL() << "bind to a port in use succeeded";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("tcp:127.0.0.1:" + server.port()), std::string::npos) << e.what();
  }
}

TEST(TcpListener, ListensOnIpv6Loopback) {
  ReactorGroup group({-1});
  group.start();
  HandlerStats stats;
  EchoFactory factory(stats);
  auto listener = listen_tcp(group, {TransportType::tcp, true, "::1", "0"}, TransportLimits{}, factory);
  EXPECT_NE(listener->address().trsvcid, "0");
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<std::uint16_t>(std::stoi(listener->address().trsvcid)));
  inet_pton(AF_INET6, "::1", &a.sin6_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto req = build_ic_req(0, 0, 0);
  ASSERT_EQ(::send(fd, &req, sizeof req, 0), static_cast<ssize_t>(sizeof req));
  pdu::IcResp resp{};
  ASSERT_EQ(::recv(fd, &resp, sizeof resp, MSG_WAITALL), static_cast<ssize_t>(sizeof resp));
  EXPECT_EQ(resp.ch.pdu_type, PduType::ic_resp);
  ::close(fd);
  listener.reset();
  EXPECT_TRUE(wait_until([&] { return stats.destroyed.load() == 1; }));
  group.stop();
}

// Hundreds of connections that never finish (or never start) their handshake must not starve a working one,
// and when they go away every queue is torn down (TestServer's destructor checks that each handler died).
TEST(TcpController, HundredsOfIdleConnectionsDoNotDisturbAWorkingOne) {
  TestServer server;
  RawClient worker(server.port());
  worker.handshake();
  std::vector<std::unique_ptr<RawClient>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<RawClient>(server.port()));
    if (i % 3 == 1) idle.back()->handshake();                     // connected, then silent
    if (i % 3 == 2) idle.back()->send(pattern(1, 5).data(), 5);   // stuck mid common header
  }
  ASSERT_TRUE(wait_until([&] { return server.stats.handlers.load() == 301; }));
  for (std::uint16_t cid = 1; cid <= 20; ++cid) {
    worker.send_command(make_sqe(0x01, cid, cid), pattern(cid, 4096));
    ASSERT_TRUE(expect_resp(worker, cid).get_status().ok());
  }
  EXPECT_EQ(server.stats.writes_verified.load(), 20);
  idle.clear();
  EXPECT_TRUE(wait_until([&] { return server.stats.closed.load() == 300; }));
}
