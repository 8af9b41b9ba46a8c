// Synchronous helpers of IoQueue: each submits through the asynchronous path and processes completions until
// its callback ran. Used by the command line and by tests; the data path proper is the asynchronous API.
#include <algorithm>

#include "fabric/reactor.hpp"
#include "initiator/error.hpp"
#include "initiator/io_queue.hpp"

namespace nvmf::initiator {

namespace {
using Clock = std::chrono::steady_clock;

struct SyncWaiter {
  bool done = false;
  nvme::Status status;
};

void on_sync_done(void* arg, nvme::Status status) {
  auto* w = static_cast<SyncWaiter*>(arg);
  w->status = status;
  w->done = true;
}

nvme::Status submit_status(SubmitResult r) {
  switch (r) {
    case SubmitResult::invalid_argument: return nvme::Status::generic(NVME_SC_INVALID_FIELD);
    case SubmitResult::disconnected: return kHostPathError;
    default: return kAbortedByHost;
  }
}
}  // namespace

template <typename Start>
nvme::Status IoQueue::run_sync(Start&& start) {
  SyncWaiter waiter;
  const auto deadline = Clock::now() + io_timeout_;
  for (;;) {
    SubmitResult r = start(&on_sync_done, &waiter);
    if (r == SubmitResult::ok) break;
    if (r != SubmitResult::queue_full || Clock::now() >= deadline) return submit_status(r);
    process_completions(std::chrono::milliseconds(1));
  }
  // No deadline of its own: process_completions() enforces the I/O timeout (closing the connection, which
  // completes the command or parks it for a reconnect), and a parked command completes by the controller-loss
  // timeout at the latest. So the callback always runs.
  while (!waiter.done) process_completions(std::chrono::milliseconds(100));
  return waiter.status;
}

nvme::Status IoQueue::read_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, void* buf) {
  auto* bytes = static_cast<std::uint8_t*>(buf);
  while (nlb > 0) {
    std::uint32_t n = std::min(nlb, ns.max_transfer_blocks);
    nvme::Status s = run_sync([&](IoCallback cb, void* arg) { return read(ns, slba, n, bytes, cb, arg); });
    if (!s.ok()) return s;
    slba += n;
    nlb -= n;
    bytes += std::size_t(n) * ns.block_size;
  }
  return {};
}

nvme::Status IoQueue::write_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf,
                                 bool fua) {
  auto* bytes = static_cast<const std::uint8_t*>(buf);
  while (nlb > 0) {
    std::uint32_t n = std::min(nlb, ns.max_transfer_blocks);
    nvme::Status s = run_sync([&](IoCallback cb, void* arg) { return write(ns, slba, n, bytes, cb, arg, fua); });
    if (!s.ok()) return s;
    slba += n;
    nlb -= n;
    bytes += std::size_t(n) * ns.block_size;
  }
  return {};
}

nvme::Status IoQueue::compare_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb, const void* buf) {
  auto* bytes = static_cast<const std::uint8_t*>(buf);
  while (nlb > 0) {
    std::uint32_t n = std::min(nlb, ns.max_transfer_blocks);
    nvme::Status s = run_sync([&](IoCallback cb, void* arg) { return compare(ns, slba, n, bytes, cb, arg); });
    if (!s.ok()) return s;
    slba += n;
    nlb -= n;
    bytes += std::size_t(n) * ns.block_size;
  }
  return {};
}

nvme::Status IoQueue::flush_sync(const Namespace& ns) {
  return run_sync([&](IoCallback cb, void* arg) { return flush(ns, cb, arg); });
}

nvme::Status IoQueue::write_zeroes_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb,
                                        bool deallocate) {
  return run_sync([&](IoCallback cb, void* arg) { return write_zeroes(ns, slba, nlb, cb, arg, deallocate); });
}

nvme::Status IoQueue::deallocate_sync(const Namespace& ns, const nvme_dsm_range* ranges, std::uint32_t count) {
  return run_sync([&](IoCallback cb, void* arg) { return deallocate(ns, ranges, count, cb, arg); });
}

nvme::Status IoQueue::command_sync(const nvme::Sqe& sqe, void* buf, std::uint32_t length, fabric::DataDirection dir) {
  return run_sync([&](IoCallback cb, void* arg) {
    if (dir == fabric::DataDirection::none) return submit(sqe, nullptr, 0, dir, cb, arg);
    return submit_single(sqe, buf, length, dir, cb, arg);
  });
}

}  // namespace nvmf::initiator
