// Adaptive polling: the window's tuning on synthetic clocks, and the reactor polling (not sleeping) for work that
// arrives inside the window and sleeping at once in pure interrupt mode.
#include "fabric/adaptive_poll.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "fabric/reactor.hpp"

using namespace nvmf::fabric;
using namespace std::chrono_literals;

namespace {
const AdaptivePoll::Clock::time_point t0 = AdaptivePoll::Clock::time_point{} + 1h;
}

TEST(AdaptivePoll, NothingToPollBeforeAnyWork) {
  AdaptivePoll p(50us);
  EXPECT_LE(p.budget(t0).count(), 0);
}

TEST(AdaptivePoll, BudgetIsWhatTheWindowHasLeftSinceTheLastWork) {
  AdaptivePoll p(50us);
  p.note_work(t0);
  EXPECT_EQ(p.budget(t0), AdaptivePoll::Clock::duration(50us));
  EXPECT_EQ(p.budget(t0 + 20us), AdaptivePoll::Clock::duration(30us));
  EXPECT_LE(p.budget(t0 + 60us).count(), 0);
}

TEST(AdaptivePoll, LongGapsCloseTheWindowAndShortOnesOpenItAgain) {
  AdaptivePoll p(50us);
  auto t = t0;
  p.note_work(t);
  // A trickle (1 ms apart, a target at 1,000 IOPS): each gap halves the window until polling stops.
  int requests = 0;
  while (p.window().count() > 0) {
    t += 1ms;
    p.note_work(t);
    ASSERT_LT(++requests, 10) << "the window must close within a few requests";
  }
  EXPECT_LE(p.budget(t).count(), 0);
  // A stream (20 us apart): the first short gap reopens the window to cover it with a quarter to spare.
  t += 20us;
  p.note_work(t);
  EXPECT_EQ(p.window(), AdaptivePoll::Clock::duration(20us + 5us + 1us));
  // Never beyond the largest window.
  t += 49us;
  p.note_work(t);
  EXPECT_EQ(p.window(), AdaptivePoll::Clock::duration(50us));
  // Shorter gaps do not shrink it: polling ends at the arrival anyway.
  t += 2us;
  p.note_work(t);
  EXPECT_EQ(p.window(), AdaptivePoll::Clock::duration(50us));
}

TEST(AdaptivePoll, ZeroMeansNeverPoll) {
  AdaptivePoll p(0us);
  p.note_work(t0);
  p.note_work(t0 + 5us);
  EXPECT_LE(p.budget(t0 + 5us).count(), 0);
}

namespace {
/// A reactor reading one end of a socket pair; `poke()` writes to the other end.
struct SocketReader {
  explicit SocketReader(Reactor& r) : reactor(r) {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    op.handler = [](IoOp& o, std::int32_t, std::uint32_t) { ++owner_of(&SocketReader::op, o).reads; };
  }
  ~SocketReader() {
    close(sv[0]);
    close(sv[1]);
  }
  void arm() { io_uring_prep_recv(reactor.sqe(op), sv[0], buf, sizeof buf, 0); }
  void poke() { ASSERT_EQ(write(sv[1], "x", 1), 1); }
  /// Turns until the read completes (bounded).
  void wait_read(int before) {
    for (int i = 0; i < 1000 && reads == before; ++i) reactor.run_once(100ms);
    ASSERT_GT(reads, before);
  }
  Reactor& reactor;
  int sv[2]{-1, -1};
  IoOp op;
  char buf[8]{};
  int reads = 0;
};
}  // namespace

TEST(ReactorAdaptivePoll, WorkInsideTheWindowIsCaughtByPolling) {
  ReactorOptions o;
  o.adaptive_poll = std::chrono::seconds(2);  // wide enough that a loaded machine cannot close it
  Reactor r(0, o);
  SocketReader s(r);
  s.arm();
  s.poke();
  s.wait_read(0);  // first work: the window starts now
  s.arm();
  const auto sleeps = r.sleeps();
  std::thread late([&] {
    std::this_thread::sleep_for(5ms);
    s.poke();
  });
  s.wait_read(1);
  late.join();
  EXPECT_EQ(r.sleeps(), sleeps) << "the reactor slept although the data came inside the window";
  EXPECT_GE(r.poll_catches(), 1u);
}

TEST(ReactorAdaptivePoll, InterruptModeSleepsAtOnce) {
  ReactorOptions o;
  o.adaptive_poll = 0us;
  Reactor r(0, o);
  SocketReader s(r);
  s.arm();
  s.poke();
  s.wait_read(0);
  s.arm();
  std::thread late([&] {
    std::this_thread::sleep_for(5ms);
    s.poke();
  });
  s.wait_read(1);
  late.join();
  EXPECT_EQ(r.poll_catches(), 0u);
  EXPECT_GE(r.sleeps(), 1u);
}
