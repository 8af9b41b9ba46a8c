#include "fabric/reactor.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

using namespace nvmf::fabric;
using namespace std::chrono_literals;

namespace {
struct PipeRead {
  IoOp op;
  char buf[16]{};
  int result = -1;
  bool done = false;
};
}  // namespace

TEST(Reactor, CompletesAnIoOpThroughTheRing) {
  Reactor r(0);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  PipeRead pr;
  pr.op.handler = [](IoOp& op, std::int32_t res, std::uint32_t) {
    auto& self = owner_of(&PipeRead::op, op);
    self.result = res;
    self.done = true;
  };
  io_uring_prep_recv(r.sqe(pr.op), sv[0], pr.buf, sizeof pr.buf, 0);
  r.run_once(0ms);
  EXPECT_FALSE(pr.done);
  ASSERT_EQ(write(sv[1], "hello", 5), 5);
  for (int i = 0; i < 100 && !pr.done; ++i) r.run_once(100ms);
  ASSERT_TRUE(pr.done);
  EXPECT_EQ(pr.result, 5);
  EXPECT_EQ(std::memcmp(pr.buf, "hello", 5), 0);
  close(sv[0]);
  close(sv[1]);
}

TEST(Reactor, PostFromAnotherThreadWakesItAndStopEndsRun) {
  Reactor r(0);
  std::atomic<int> ran{0};
  std::thread t([&] { r.run(); });
  r.post([&] { ran = 1; });
  for (int i = 0; i < 200 && ran.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(ran.load(), 1);
  r.post([&] { EXPECT_EQ(Reactor::current(), &r); ran = 2; });
  r.stop();
  t.join();
  EXPECT_EQ(ran.load(), 2);  // posted before stop: still runs
}

TEST(Reactor, TimersFireInOrderAndCancelWorks) {
  Reactor r(0);
  std::vector<int> order;
  r.add_timer(30ms, [&] { order.push_back(3); });
  r.add_timer(10ms, [&] { order.push_back(1); });
  auto id = r.add_timer(20ms, [&] { order.push_back(2); });
  r.cancel_timer(id);
  auto start = std::chrono::steady_clock::now();
  while (order.size() < 2 && std::chrono::steady_clock::now() - start < 2s) r.run_once(50ms);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
}

TEST(Reactor, DeferRunsAfterTheCurrentTurn) {
  Reactor r(0);
  std::vector<int> order;
  r.post([&] {
    r.defer([&] { order.push_back(2); });
    order.push_back(1);
  });
  for (int i = 0; i < 50 && order.size() < 2; ++i) r.run_once(20ms);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(CpuList, ParsesAndRefuses) {
  EXPECT_EQ(parse_cpu_list("0,2-3"), (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(parse_cpu_list("1"), (std::vector<int>{1}));
  EXPECT_THROW(parse_cpu_list("a"), std::invalid_argument);
  EXPECT_THROW(parse_cpu_list("3-1"), std::invalid_argument);
  EXPECT_THROW(parse_cpu_list("1,"), std::invalid_argument);
}
