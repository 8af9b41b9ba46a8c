// Readiness of an rdma_cm event channel or a verbs completion channel, delivered by the reactor's io_uring
// (IORING_OP_POLL_ADD, one-shot, re-armed after each callback): the reactor sleeps while the queue is idle.
// The watch outlives its owner when needed: detach() cancels the poll and the watch frees itself once the
// kernel has returned its last completion, so the owner can go away at once. A watch detached after its reactor's
// last turn (a queue torn down while the process stops) never gets that completion: it stays an orphan, owned by
// a registry that frees it at process exit, once no ring can complete its poll any more.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fabric/io_op.hpp"

namespace nvmf::fabric {
class Reactor;
}

namespace nvmf::fabric::rdma {

class FdWatch {
 public:
  using Callback = void (*)(void* owner);

  /// Start watching `fd` for POLLIN on `reactor`; `callback(owner)` runs on each readiness.
  static FdWatch* start(Reactor& reactor, int fd, void* owner, Callback callback);
  /// The owner is going away: no more callbacks. The watch deletes itself (now, or when its poll completes).
  void detach();
  /// Watches detached while their poll was in flight, not yet freed (diagnostics and tests).
  static std::size_t orphans();

 private:
  FdWatch(Reactor& reactor, int fd, void* owner, Callback callback);
  void arm();
  static void on_ready(IoOp& op, std::int32_t res, std::uint32_t flags);

  IoOp op_;
  Reactor& reactor_;
  int fd_;
  void* owner_;
  Callback callback_;
  bool armed_ = false;
  bool detached_ = false;
  bool in_callback_ = false;
};

}  // namespace nvmf::fabric::rdma
