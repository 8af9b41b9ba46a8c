#include "initiator/sync_command.hpp"

#include <algorithm>
#include <cstdlib>
#include <sys/uio.h>

#include "fabric/reactor.hpp"
#include "initiator/error.hpp"

namespace nvmf::initiator {

namespace {
using Clock = std::chrono::steady_clock;

struct Waiter {
  bool done = false;
};

void on_sync_complete(fabric::HostRequest& req) { static_cast<Waiter*>(req.context)->done = true; }

std::chrono::milliseconds slice(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(100));
}
}  // namespace

nvme::Status execute_sync(fabric::HostQueue& queue, fabric::HostRequest& req, std::chrono::milliseconds timeout) {
  Waiter waiter;
  req.on_complete = &on_sync_complete;
  req.context = &waiter;
  fabric::Reactor& reactor = queue.reactor();
  const auto deadline = Clock::now() + timeout;

  // The queue may be full of other commands (keep-alive on the admin queue, I/O on a shared reactor).
  while (!queue.submit(req)) {
    if (!queue.alive()) return kHostPathError;
    if (Clock::now() >= deadline) return kAbortedByHost;
    reactor.run_once(slice(deadline));
  }
  while (!waiter.done) {
    if (Clock::now() >= deadline) {
      queue.close();
      // close() completes outstanding requests; give it the turns it needs to deliver them.
      for (int turn = 0; turn < 100 && !waiter.done; ++turn) reactor.run_once(std::chrono::milliseconds(10));
      if (!waiter.done) std::abort();  // req would be referenced after return: a transport bug, fail loudly
      return kAbortedByHost;
    }
    reactor.run_once(slice(deadline));
  }
  return req.status();
}

nvme::Status execute_sync(fabric::HostQueue& queue, const nvme::Sqe& sqe, void* data, std::uint32_t length,
                          fabric::DataDirection direction, std::chrono::milliseconds timeout, nvme::Cqe* cqe) {
  fabric::HostRequest req;
  req.sqe = sqe;
  iovec iov{data, length};
  if (length > 0) {
    req.iov = &iov;
    req.iovcnt = 1;
    req.direction = direction;
  }
  nvme::Status status = execute_sync(queue, req, timeout);
  if (cqe) *cqe = req.cqe;
  return status;
}

}  // namespace nvmf::initiator
