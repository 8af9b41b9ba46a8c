// The NVMe/TCP controller queue's connect timeout: a connection that says nothing, or stops after its ICReq,
// is closed once ControllerQueueConfig::connect_timeout passes without a Fabrics Connect; one that connected
// stays however long it idles.
#include <gtest/gtest.h>

#include <chrono>

#include "tcp_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace nvmf::fabric::tcp::testing;
using Clock = std::chrono::steady_clock;

namespace {

ControllerQueueConfig short_connect_timeout() {
  ControllerQueueConfig c = TestServer::default_config();
  c.connect_timeout = std::chrono::milliseconds(300);
  return c;
}

TEST(TcpConnectTimeout, SilentAndIcReqOnlyConnectionsAreClosed) {
  TestServer server(short_connect_timeout());
  for (bool handshake : {false, true}) {
    SCOPED_TRACE(handshake ? "after the ICReq" : "silent from the start");
    const auto start = Clock::now();
    RawClient c(server.port());
    if (handshake) c.handshake();
    EXPECT_TRUE(c.peer_closed());
    const auto took = Clock::now() - start;
    EXPECT_GE(took, std::chrono::milliseconds(250));
    EXPECT_LT(took, std::chrono::milliseconds(3000));
  }
  EXPECT_TRUE(wait_until([&] { return server.stats.destroyed.load() == 2; }));
}

TEST(TcpConnectTimeout, ConnectedQueueOutlivesTheTimeout) {
  TestServer server(short_connect_timeout());
  RawClient c(server.port());
  c.handshake();
  c.send_command(make_connect(1, 0, 31, false), Bytes(1024, 0));
  Bytes resp = c.recv_pdu();
  ASSERT_EQ(common(resp).pdu_type, pdu::PduType::capsule_resp);
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  c.send_command(make_sqe(0x02, 9, 3), {}, 4096);
  Bytes data = c.recv_pdu();
  EXPECT_EQ(common(data).pdu_type, pdu::PduType::c2h_data) << "the connected queue was closed";
  EXPECT_EQ(server.stats.destroyed.load(), 0);
}

}  // namespace
