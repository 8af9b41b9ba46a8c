// FdWatch: readiness of a channel fd through the reactor's io_uring, and the life of a watch whose owner goes away
// while its poll is still in the kernel (queues torn down during shutdown). An eventfd stands in for the rdma_cm
// and completion channels: the watch only needs a pollable fd.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "fabric/rdma/fd_watch.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::rdma {
namespace {

using namespace std::chrono_literals;

struct EventFd {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ~EventFd() { ::close(fd); }
  void signal() const {
    std::uint64_t one = 1;
    ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  }
  void consume() const {
    std::uint64_t value = 0;
    ASSERT_EQ(::read(fd, &value, sizeof value), static_cast<ssize_t>(sizeof value));
  }
};

struct Owner {
  const EventFd* fd = nullptr;
  int calls = 0;
  static void on_ready(void* self) {
    auto* o = static_cast<Owner*>(self);
    ++o->calls;
    o->fd->consume();  // level-triggered: drain, as the queues drain their channels
  }
};

void turn_until(Reactor& reactor, const std::function<bool()>& done) {
  for (int i = 0; i < 50 && !done(); ++i) reactor.run_once(20ms);
}

TEST(RdmaFdWatch, CallsBackOnEachReadinessAndRearms) {
  Reactor reactor(0);
  EventFd efd;
  Owner owner{&efd};
  FdWatch* watch = FdWatch::start(reactor, efd.fd, &owner, &Owner::on_ready);
  reactor.run_once(0ms);
  EXPECT_EQ(owner.calls, 0);
  efd.signal();
  turn_until(reactor, [&] { return owner.calls == 1; });
  EXPECT_EQ(owner.calls, 1);
  efd.signal();
  turn_until(reactor, [&] { return owner.calls == 2; });
  EXPECT_EQ(owner.calls, 2);
  const auto before = FdWatch::orphans();
  watch->detach();
  turn_until(reactor, [&] { return FdWatch::orphans() == before; });
  EXPECT_EQ(FdWatch::orphans(), before);
}

TEST(RdmaFdWatch, DetachWhileArmedFreesTheWatchWhenTheCancellationCompletes) {
  Reactor reactor(0);
  EventFd efd;
  Owner owner{&efd};
  FdWatch* watch = FdWatch::start(reactor, efd.fd, &owner, &Owner::on_ready);
  reactor.run_once(0ms);  // the poll is in the kernel now
  const auto before = FdWatch::orphans();
  watch->detach();
  EXPECT_EQ(FdWatch::orphans(), before + 1);
  efd.signal();  // readiness after detach must not reach the owner
  turn_until(reactor, [&] { return FdWatch::orphans() == before; });
  EXPECT_EQ(FdWatch::orphans(), before);
  EXPECT_EQ(owner.calls, 0);
}

TEST(RdmaFdWatch, WatchDetachedAfterTheReactorsLastTurnIsKeptByTheRegistry) {
  // A queue freed after its reactor stopped: the cancellation never comes back. The watch must neither be freed
  // under the kernel's feet nor leak (the ASan build's leak check covers the second half at exit).
  const auto before = FdWatch::orphans();
  {
    auto reactor = std::make_unique<Reactor>(0);
    EventFd efd;
    Owner owner{&efd};
    FdWatch* watch = FdWatch::start(*reactor, efd.fd, &owner, &Owner::on_ready);
    reactor->run_once(0ms);
    watch->detach();
    reactor.reset();
  }
  EXPECT_EQ(FdWatch::orphans(), before + 1);
}

}  // namespace
}  // namespace nvmf::fabric::rdma
