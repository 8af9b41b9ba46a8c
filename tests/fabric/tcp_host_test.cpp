// TcpHostQueue against TcpControllerQueue on loopback: the host side drives its own reactor from the test thread.
#include <gtest/gtest.h>

#include "fabric/tcp/host_queue.hpp"
#include "tcp_test_support.hpp"

using namespace nvmf;
using namespace nvmf::fabric;
using namespace nvmf::fabric::tcp;
using namespace nvmf::fabric::tcp::testing;

namespace {

struct Done {
  int count = 0;
  std::vector<nvme::Status> statuses;
};

void on_done(HostRequest& req) {
  auto* d = static_cast<Done*>(req.context);
  ++d->count;
  d->statuses.push_back(req.status());
}

template <typename Pred>
bool drive(Reactor& r, Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    r.run_once(10ms);
  }
  return true;
}

HostQueueOptions options_for(const std::string& port, bool hdgst, bool ddgst, std::uint16_t depth = 32) {
  HostQueueOptions o;
  o.traddr = "127.0.0.1";
  o.trsvcid = port;
  o.header_digest = hdgst;
  o.data_digest = ddgst;
  o.queue_depth = depth;
  o.connect_timeout = 2000ms;
  return o;
}

HostRequest make_request(std::uint8_t opcode, std::uint32_t seed, const iovec* iov, std::uint32_t iovcnt,
                         DataDirection dir, Done& done, std::uint32_t cdw13 = 0) {
  HostRequest r;
  r.sqe = make_sqe(opcode, 0, seed, cdw13);
  r.iov = iov;
  r.iovcnt = iovcnt;
  r.direction = dir;
  r.on_complete = &on_done;
  r.context = &done;
  return r;
}

}  // namespace

class TcpHostDigests : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(TcpHostDigests, WritesAndReadsFrom4KiBTo1MiB) {
  auto [hdgst, ddgst] = GetParam();
  auto config = TestServer::default_config();
  config.limits.max_io_size = 1 << 20;
  config.max_h2c_data = 128 * 1024;  // 1 MiB writes take 8 H2CData PDUs
  TestServer server(config, 1 << 20);
  Reactor reactor(1);
  std::string error;
  auto q = connect_tcp_host_queue(reactor, options_for(server.port(), hdgst, ddgst), &error);
  ASSERT_TRUE(q) << error;
  EXPECT_EQ(q->negotiated().digests.header, hdgst);
  EXPECT_EQ(q->negotiated().digests.data, ddgst);
  EXPECT_EQ(q->negotiated().max_h2c_data, 128u * 1024);
  EXPECT_EQ(q->negotiated().cpda, 0);
  EXPECT_EQ(q->in_capsule_limit(), 8192u);

  int expected_verified = 0;
  for (std::uint32_t size : {4096u, 8192u, 8196u, 65536u, 1u << 20}) {
    // Writes from two iovecs (split off-centre), in-capsule up to 8 KiB, R2T beyond.
    Bytes data = pattern(size, size);
    std::uint32_t cut = size / 3;
    iovec iov[2] = {{data.data(), cut}, {data.data() + cut, size - cut}};
    Done done;
    HostRequest w = make_request(0x01, size, iov, 2, DataDirection::host_to_controller, done);
    ASSERT_TRUE(q->submit(w));
    ASSERT_TRUE(drive(reactor, [&] { return done.count == 1; })) << size;
    EXPECT_TRUE(done.statuses[0].ok()) << size << ": " << done.statuses[0].to_string();
    EXPECT_EQ(w.sqe.dptr.type(), size <= 8192 ? nvme::SglType::data_block : nvme::SglType::transport_data_block);
    EXPECT_EQ(server.stats.writes_verified.load(), ++expected_verified);

    // Reads land in three iovecs.
    Bytes a(size / 4), b(size / 2), c(size - size / 4 - size / 2);
    iovec riov[3] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
    Done rdone;
    HostRequest r = make_request(0x02, size + 1, riov, 3, DataDirection::controller_to_host, rdone);
    ASSERT_TRUE(q->submit(r));
    ASSERT_TRUE(drive(reactor, [&] { return rdone.count == 1; }));
    EXPECT_TRUE(rdone.statuses[0].ok());
    Bytes got(a);
    got.insert(got.end(), b.begin(), b.end());
    got.insert(got.end(), c.begin(), c.end());
    EXPECT_EQ(got, pattern(size + 1, size)) << size;
  }
  EXPECT_EQ(q->outstanding(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Digests, TcpHostDigests,
                         ::testing::Values(std::make_tuple(false, false), std::make_tuple(true, false),
                                           std::make_tuple(false, true), std::make_tuple(true, true)));

TEST(TcpHost, ManyConcurrentCommandsAndSuccessFlag) {
  TestServer server;
  Reactor reactor(1);
  std::string error;
  auto q = connect_tcp_host_queue(reactor, options_for(server.port(), false, true, 16), &error);
  ASSERT_TRUE(q) << error;
  // Connect with SQ flow control disabled: reads complete through C2HData SUCCESS, without CapsuleResp.
  Bytes connect_data(1024, 0);
  iovec civ{connect_data.data(), connect_data.size()};
  Done cdone;
  HostRequest c = make_request(0, 0, &civ, 1, DataDirection::host_to_controller, cdone);
  c.sqe = make_connect(0, 1, 15, true);
  ASSERT_TRUE(q->submit(c));
  ASSERT_TRUE(drive(reactor, [&] { return cdone.count == 1; }));
  ASSERT_TRUE(cdone.statuses[0].ok());

  std::vector<Bytes> bufs(16, Bytes(16384));
  std::vector<iovec> iovs(16);
  std::vector<HostRequest> reqs(16);
  Done done;
  for (int i = 0; i < 16; ++i) {
    iovs[i] = {bufs[i].data(), bufs[i].size()};
    reqs[i] = make_request(0x02, 100 + i, &iovs[i], 1, DataDirection::controller_to_host, done);
    ASSERT_TRUE(q->submit(reqs[i]));
  }
  HostRequest extra = make_request(0x00, 0, nullptr, 0, DataDirection::none, done);
  EXPECT_FALSE(q->submit(extra));  // depth reached
  EXPECT_EQ(q->outstanding(), 16u);
  ASSERT_TRUE(drive(reactor, [&] { return done.count == 16; }));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(bufs[i], pattern(100 + i, 16384)) << i;
  for (auto& s : done.statuses) EXPECT_TRUE(s.ok());
  EXPECT_TRUE(q->submit(extra));
  ASSERT_TRUE(drive(reactor, [&] { return done.count == 17; }));
}

TEST(TcpHost, ControllerClosingFailsOutstandingRequests) {
  TestServer server;
  Reactor reactor(1);
  std::string error;
  auto q = connect_tcp_host_queue(reactor, options_for(server.port(), false, false, 8), &error);
  ASSERT_TRUE(q) << error;
  Done held;
  Bytes buf(4096);
  iovec iov{buf.data(), buf.size()};
  HostRequest h1 = make_request(0x02, 0, &iov, 1, DataDirection::controller_to_host, held, kHold);
  HostRequest h2 = make_request(0x00, 0, nullptr, 0, DataDirection::none, held, kHold);
  ASSERT_TRUE(q->submit(h1));
  ASSERT_TRUE(q->submit(h2));
  ASSERT_TRUE(drive(reactor, [&] { return server.stats.commands.load() == 2; }));
  Done closer;
  HostRequest c = make_request(0x00, 0, nullptr, 0, DataDirection::none, closer, kCloseQueue);
  ASSERT_TRUE(q->submit(c));
  ASSERT_TRUE(drive(reactor, [&] { return held.count == 2 && closer.count == 1; }));
  EXPECT_FALSE(q->alive());
  EXPECT_FALSE(q->error().message.empty());
  for (auto& s : held.statuses) {
    EXPECT_EQ(s.sct(), NVME_SCT_PATH);
    EXPECT_EQ(s.sc(), NVME_SC_HOST_PATH_ERROR);
    EXPECT_FALSE(s.dnr());
  }
  EXPECT_EQ(q->outstanding(), 0u);
  EXPECT_FALSE(q->submit(c));
}

TEST(TcpHost, HostCloseAbortsOutstandingRequests) {
  TestServer server;
  Reactor reactor(1);
  std::string error;
  auto q = connect_tcp_host_queue(reactor, options_for(server.port(), false, false, 8), &error);
  ASSERT_TRUE(q) << error;
  Done held;
  HostRequest h = make_request(0x00, 0, nullptr, 0, DataDirection::none, held, kHold);
  ASSERT_TRUE(q->submit(h));
  ASSERT_TRUE(drive(reactor, [&] { return server.stats.commands.load() == 1; }));
  q->close();
  ASSERT_TRUE(drive(reactor, [&] { return held.count == 1; }));
  EXPECT_EQ(held.statuses[0].sc(), NVME_SC_CMD_ABORTED_BY_HOST);
  EXPECT_FALSE(q->alive());
  q.reset();
  for (int i = 0; i < 5; ++i) reactor.run_once(1ms);  // the connection frees itself once the ring let go
}

TEST(TcpHost, ConnectionRefused) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  std::string port = std::to_string(ntohs(a.sin_port));
  ::close(fd);  // bound then closed: nothing listens there
  Reactor reactor(1);
  std::string error;
  auto q = connect_tcp_host_queue(reactor, options_for(port, false, false), &error);
  EXPECT_FALSE(q);
  EXPECT_NE(error.find("refused"), std::string::npos) << error;
}

namespace {
/// A fake controller that accepts one connection and answers the ICReq with `resp` (or not at all).
struct FakeController {
  explicit FakeController(std::optional<pdu::IcResp> resp) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::listen(fd, 1);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = std::to_string(ntohs(a.sin_port));
    thread = std::thread([this, resp] {
      int c = ::accept(fd, nullptr, nullptr);
      pdu::IcReq req{};
      ssize_t n;
      do n = ::recv(c, &req, sizeof req, MSG_WAITALL);
      while (n < 0 && errno == EINTR);
      got_icreq = n == static_cast<ssize_t>(sizeof req) && req.ch.pdu_type == pdu::PduType::ic_req;
      if (resp) ::send(c, &*resp, sizeof *resp, MSG_NOSIGNAL);
      char b;
      do n = ::recv(c, &b, 1, 0);  // until the host gives up
      while (n < 0 && errno == EINTR);
      ::close(c);
    });
  }
  ~FakeController() {
    thread.join();
    ::close(fd);
  }
  int fd;
  std::string port;
  std::thread thread;
  std::atomic<bool> got_icreq{false};
};
}  // namespace

TEST(TcpHost, RejectsBadIcResp) {
  struct Case {
    pdu::IcResp resp;
    const char* needle;
  } cases[] = {
      {build_ic_resp(0, 0, 1000), "MAXH2CDATA"},
      {build_ic_resp(0, 0, 4098), "MAXH2CDATA"},
      {build_ic_resp(0, 3, 8192), "digests"},
      {build_ic_resp(40, 0, 8192), "CPDA"},
  };
  for (auto& k : cases) {
    FakeController fake(k.resp);
    Reactor reactor(1);
    std::string error;
    auto q = connect_tcp_host_queue(reactor, options_for(fake.port, false, false), &error);
    EXPECT_FALSE(q);
    EXPECT_NE(error.find(k.needle), std::string::npos) << error;
    EXPECT_TRUE(fake.got_icreq.load());
  }
}

TEST(TcpHost, IcRespTimeout) {
  FakeController fake(std::nullopt);
  Reactor reactor(1);
  auto o = options_for(fake.port, false, false);
  o.connect_timeout = 200ms;
  std::string error;
  auto start = std::chrono::steady_clock::now();
  auto q = connect_tcp_host_queue(reactor, o, &error);
  EXPECT_FALSE(q);
  EXPECT_NE(error.find("no ICResp"), std::string::npos) << error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}
