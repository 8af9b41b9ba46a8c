// Tests of nvmf-ceiling: the stream framing, the histogram arithmetic, send batching with short sends, and a
// short loopback run in each wait mode where the server's count of requests must match the client's, and the
// payload memory that makes the ceiling one of a RAM namespace.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "bench/ceiling/client.hpp"
#include "bench/ceiling/latency_histogram.hpp"
#include "bench/ceiling/message_reader.hpp"
#include "bench/ceiling/message_sender.hpp"
#include "bench/ceiling/payload_memory.hpp"
#include "bench/ceiling/server.hpp"

namespace nvmf::bench {
namespace {

std::vector<std::uint8_t> message(std::uint32_t length, std::uint32_t tag, MessageKind kind) {
  std::vector<std::uint8_t> bytes(length, 0xab);
  MessageHeader h{length, 0, tag, kind, 0};
  std::memcpy(bytes.data(), &h, sizeof h);
  return bytes;
}

TEST(MessageReader, SplitsAStreamFedOneByteAtATime) {
  std::vector<std::uint8_t> stream;
  for (std::uint32_t tag : {7u, 8u, 9u}) {
    auto m = message(tag == 8 ? 16 : 4120, tag, MessageKind::response);
    stream.insert(stream.end(), m.begin(), m.end());
  }
  MessageReader reader;
  std::vector<std::uint32_t> tags;
  for (std::uint8_t b : stream)
    EXPECT_EQ(reader.feed(&b, 1, [&](const MessageHeader& h, const std::uint8_t*) {
      tags.push_back(h.tag);
      return true;
    }), 1u);
  EXPECT_EQ(tags, (std::vector<std::uint32_t>{7, 8, 9}));
}

TEST(MessageReader, StopsRightAfterTheMessageTheCallerCannotFollow) {
  auto a = message(72, 1, MessageKind::request);
  auto b = message(16, 2, MessageKind::request);
  a.insert(a.end(), b.begin(), b.end());
  MessageReader reader;
  int seen = 0;
  EXPECT_EQ(reader.feed(a.data(), a.size(), [&](const MessageHeader&, const std::uint8_t*) { return ++seen < 1; }),
            72u);
  EXPECT_EQ(reader.feed(a.data() + 72, a.size() - 72, [&](const MessageHeader& h, const std::uint8_t*) {
    EXPECT_EQ(h.tag, 2u);
    return true;
  }), 16u);
}

TEST(MessageReader, CapturesTheStatsAnswer) {
  auto m = message(16 + sizeof(ServerStats), 0, MessageKind::stats_answer);
  ServerStats s{123, 456, 789};
  std::memcpy(m.data() + 16, &s, sizeof s);
  MessageReader reader;
  ServerStats got{};
  reader.feed(m.data(), 20, [](const MessageHeader&, const std::uint8_t*) { return true; });
  reader.feed(m.data() + 20, m.size() - 20, [&](const MessageHeader&, const std::uint8_t* captured) {
    std::memcpy(&got, captured, sizeof got);
    return true;
  });
  EXPECT_EQ(got.requests, 123u);
  EXPECT_EQ(got.user_us, 456u);
  EXPECT_EQ(got.system_us, 789u);
}

TEST(MessageReader, RejectsALengthShorterThanItsHeader) {
  auto m = message(16, 0, MessageKind::request);
  std::uint32_t bad = 8;
  std::memcpy(m.data(), &bad, sizeof bad);
  MessageReader reader;
  EXPECT_THROW(reader.feed(m.data(), m.size(), [](const MessageHeader&, const std::uint8_t*) { return true; }),
               std::runtime_error);
}

TEST(LatencyHistogram, EveryValueLiesInItsBucketAndBucketsAreNarrow) {
  for (std::uint64_t v : {0ull, 1ull, 31ull, 32ull, 33ull, 1000ull, 4095ull, 4096ull, 123456789ull, 1ull << 40}) {
    unsigned i = LatencyHistogram::index_of(v);
    EXPECT_LE(v, LatencyHistogram::upper_edge_ns(i)) << v;
    if (i > 0) {
      EXPECT_GT(v, LatencyHistogram::upper_edge_ns(i - 1)) << v;
    }
    EXPECT_LE(LatencyHistogram::upper_edge_ns(i) - v, v / 32 + 1) << v;
  }
}

TEST(LatencyHistogram, PercentilesMeanAndExtremes) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);  // 1..1000 us
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 500500.0);
  EXPECT_EQ(h.min_ns(), 1000u);
  EXPECT_EQ(h.max_ns(), 1000000u);
  auto p50 = static_cast<double>(h.percentile_ns(0.5));
  auto p99 = static_cast<double>(h.percentile_ns(0.99));
  EXPECT_NEAR(p50, 500000.0, 500000.0 / 32);
  EXPECT_NEAR(p99, 990000.0, 990000.0 / 32);
  EXPECT_EQ(h.percentile_ns(1.0), 1000000u);
}

TEST(MessageSender, ResumesAShortSendWhereItStopped) {
  io_uring ring;
  ASSERT_EQ(io_uring_queue_init(8, &ring, 0), 0);
  std::vector<std::uint8_t> payload(4096, 1);
  MessageSender sender(4);
  sender.add({72, 4120, 1, MessageKind::request, 0}, payload.data());
  sender.add({16, 16, 2, MessageKind::request, 0}, nullptr);
  ASSERT_TRUE(sender.has_work());
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  sender.prep(sqe, 3);
  auto* msg = reinterpret_cast<msghdr*>(sqe->addr);
  ASSERT_EQ(msg->msg_iovlen, 3u);  // header, payload, header
  sender.complete(20);             // the kernel took the first header and 4 payload bytes
  ASSERT_TRUE(sender.has_work());
  sqe = io_uring_get_sqe(&ring);
  sender.prep(sqe, 3);
  msg = reinterpret_cast<msghdr*>(sqe->addr);
  ASSERT_EQ(msg->msg_iovlen, 2u);
  EXPECT_EQ(msg->msg_iov[0].iov_base, payload.data() + 4);
  EXPECT_EQ(msg->msg_iov[0].iov_len, 52u);
  sender.complete(52 + 16);
  EXPECT_FALSE(sender.has_work());
  io_uring_queue_exit(&ring);
}

TEST(PayloadMemory, IsResidentAndHandsOutAlignedBlocksThatFitAllOverIt) {
  constexpr std::size_t kSize = 1024 * 1024;
  PayloadMemory memory(kSize);
  std::vector<unsigned char> resident(kSize / 4096);
  ASSERT_EQ(::mincore(const_cast<std::uint8_t*>(memory.data()), kSize, resident.data()), 0);
  EXPECT_EQ(std::count(resident.begin(), resident.end(), 1), static_cast<long>(resident.size()));
  EXPECT_EQ(memory.data()[kSize - 1], 0x5a);  // written, so no page is the shared zero page
  std::set<const std::uint8_t*> seen;
  for (int i = 0; i < 2000; ++i) {
    const std::uint8_t* b = memory.random_block(8192);
    ASSERT_EQ((b - memory.data()) % 4096, 0);
    ASSERT_GE(b, memory.data());
    ASSERT_LE(b + 8192, memory.data() + kSize);
    seen.insert(b);
  }
  EXPECT_GT(seen.size(), 200u);  // spread over the 255 starts that fit, not stuck on a few
  EXPECT_THROW(memory.random_block(kSize + 1), std::runtime_error);
  EXPECT_THROW(PayloadMemory(100), std::invalid_argument);
}

TEST(MessageReader, CopiesARequestsPayloadIntoPayloadMemoryAsItArrives) {
  PayloadMemory memory(4096);  // one block: every payload lands at its start
  MessageReader reader;
  reader.copy_request_payloads_to(&memory);
  auto m = message(16 + 100, 24, MessageKind::request);
  for (std::size_t i = 16; i < m.size(); ++i) m[i] = static_cast<std::uint8_t>(i);
  int messages = 0;
  for (std::size_t at = 0; at < m.size(); at += 7)  // payload split across feeds
    reader.feed(m.data() + at, std::min<std::size_t>(7, m.size() - at), [&](const MessageHeader&, const std::uint8_t*) {
      ++messages;
      return true;
    });
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(std::memcmp(memory.data(), m.data() + 16, 100), 0);
  EXPECT_EQ(memory.data()[100], 0x5a);  // nothing beyond the payload
}

/// Sets the server's stop flag and joins its thread. The server sleeps in io_uring_enter in interrupt mode: a last
/// connection wakes it to see the flag. A polling server may already be gone, so a refused connection is fine.
void stop_server(volatile std::sig_atomic_t& stop, const SocketAddress& address, std::thread& server) {
  stop = 1;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(fd, 0);
  [[maybe_unused]] int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  ::close(fd);
  server.join();
}

class Loopback : public ::testing::TestWithParam<WaitMode> {};

TEST_P(Loopback, EveryRequestIsAnsweredAndCounted) {
  static volatile std::sig_atomic_t stop = 0;
  stop = 0;
  std::promise<std::uint16_t> port;
  std::thread server([&] {
    // The ring is made on the thread that uses it (SINGLE_ISSUER).
    CeilingServer s({parse_address("127.0.0.1:0"), GetParam(), TaskRun::defer});
    port.set_value(s.port());
    s.run(stop);
  });
  std::uint16_t p = port.get_future().get();
  ClientOptions o;
  o.server = parse_address("127.0.0.1:" + std::to_string(p));
  o.mode = GetParam();
  o.shape = {72, 4120};
  o.other_shape = {4168, 24};
  o.shape_percent = 70;
  o.queue_depth = 8;
  o.seconds = 0.2;
  o.payload_size = 4096;
  for (int run = 0; run < 2; ++run) {  // the server takes one connection after another
    ClientResult r = CeilingClient(o).run();
    EXPECT_GT(r.completed, 0u);
    EXPECT_EQ(r.server.requests, r.completed);
    EXPECT_EQ(r.latency.count(), r.completed);
    EXPECT_EQ(r.payload_bytes, r.completed * 4096);
    EXPECT_GE(r.elapsed_s, 0.2);
  }
  stop_server(stop, o.server, server);
}

TEST(Loopback, AServerWithPayloadMemoryAnswersReadsAndWrites) {
  static volatile std::sig_atomic_t stop = 0;
  std::promise<std::uint16_t> port;
  std::thread server([&] {
    ServerOptions so{parse_address("127.0.0.1:0"), WaitMode::interrupt, TaskRun::defer};
    so.payload_memory = 1024 * 1024;
    CeilingServer s(so);
    port.set_value(s.port());
    s.run(stop);
  });
  ClientOptions o;
  o.server = parse_address("127.0.0.1:" + std::to_string(port.get_future().get()));
  o.shape = {72, 16 + 128 * 1024};  // 128 KiB payloads: each block must leave room for all of it
  o.other_shape = {16 + 128 * 1024, 24};
  o.shape_percent = 50;
  o.queue_depth = 8;
  o.seconds = 0.2;
  ClientResult r = CeilingClient(o).run();
  EXPECT_GT(r.completed, 0u);
  EXPECT_EQ(r.server.requests, r.completed);
  stop_server(stop, o.server, server);
}

INSTANTIATE_TEST_SUITE_P(Modes, Loopback, ::testing::Values(WaitMode::interrupt, WaitMode::poll));

}  // namespace
}  // namespace nvmf::bench
