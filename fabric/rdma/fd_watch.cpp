#include "fabric/rdma/fd_watch.hpp"

#include <poll.h>

#include <cerrno>
#include <mutex>
#include <unordered_set>

#include "fabric/log.hpp"
#include "fabric/reactor.hpp"

namespace nvmf::fabric::rdma {

namespace {
// Detached watches whose poll is still in the kernel. Touched only at teardown (control path), from any reactor
// thread, hence the mutex. What is left at exit belongs to reactors that stopped before the cancellation came
// back: their rings are closed by then, so nothing can still complete those polls.
struct OrphanRegistry {
  std::mutex mutex;
  std::unordered_set<FdWatch*> watches;
  ~OrphanRegistry();
};
OrphanRegistry& orphan_registry() {
  static OrphanRegistry registry;
  return registry;
}
}  // namespace

OrphanRegistry::~OrphanRegistry() {
  for (FdWatch* w : watches) delete w;
}

std::size_t FdWatch::orphans() {
  auto& r = orphan_registry();
  std::lock_guard lock(r.mutex);
  return r.watches.size();
}

FdWatch* FdWatch::start(Reactor& reactor, int fd, void* owner, Callback callback) {
  auto* w = new FdWatch(reactor, fd, owner, callback);
  w->arm();
  return w;
}

FdWatch::FdWatch(Reactor& reactor, int fd, void* owner, Callback callback)
    : reactor_(reactor), fd_(fd), owner_(owner), callback_(callback) {
  op_.handler = &FdWatch::on_ready;
}

void FdWatch::arm() {
  io_uring_prep_poll_add(reactor_.sqe(op_), fd_, POLLIN);
  armed_ = true;
}

void FdWatch::detach() {
  if (detached_) return;
  detached_ = true;
  if (in_callback_) return;  // on_ready finishes the job
  if (!armed_) {
    delete this;
    return;
  }
  {
    auto& r = orphan_registry();
    std::lock_guard lock(r.mutex);
    r.watches.insert(this);
  }
  io_uring_prep_poll_remove(reactor_.sqe_ignored(), reinterpret_cast<std::uint64_t>(&op_));
}

void FdWatch::on_ready(IoOp& op, std::int32_t res, std::uint32_t) {
  auto& self = owner_of(&FdWatch::op_, op);
  self.armed_ = false;
  if (self.detached_) {
    auto& r = orphan_registry();
    {
      std::lock_guard lock(r.mutex);
      r.watches.erase(&self);
    }
    delete &self;
    return;
  }
  if (res < 0 && res != -EINTR) {
    // Not re-armed: a poll that fails once (bad fd) would fail in a loop. The owner's detach() frees the watch.
    NVMF_LOG(error, "rdma: poll on fd %d failed: %d", self.fd_, res);
    return;
  }
  self.in_callback_ = true;
  self.callback_(self.owner_);
  self.in_callback_ = false;
  if (self.detached_) {
    delete &self;
    return;
  }
  self.arm();
}

}  // namespace nvmf::fabric::rdma
