// Fused Compare and Write on the host's I/O queue: the Compare (FUSE 01b) and the Write (FUSE 10b) go out back to
// back on this queue, which one thread drives, so no other command of ours comes between them on the SQ; the
// controller runs them as one operation. The two completions meet in a FusedPair taken from a pool sized once,
// on the first call, so the data path allocates nothing after that.
#include "fabric/reactor.hpp"
#include "initiator/commands.hpp"
#include "initiator/io_queue.hpp"

namespace nvmf::initiator {

namespace {
constexpr std::uint8_t kFuseFirst = 0x01, kFuseSecond = 0x02;
}

void IoQueue::fused_half_done(FusedPair& pair) {
  if (--pair.left > 0) return;
  IoQueue* self = pair.owner;
  const CompareWriteCallback cb = pair.cb;
  void* arg = pair.arg;
  const nvme::Status compare = pair.compare, write = pair.write;
  self->fused_free_.push_back(&pair);  // recycled first: the callback may submit the next pair
  cb(arg, compare, write);
}

void IoQueue::on_fused_compare(void* arg, nvme::Status status) {
  auto& pair = *static_cast<FusedPair*>(arg);
  pair.compare = status;
  fused_half_done(pair);
}

void IoQueue::on_fused_write(void* arg, nvme::Status status) {
  auto& pair = *static_cast<FusedPair*>(arg);
  pair.write = status;
  fused_half_done(pair);
}

SubmitResult IoQueue::compare_and_write(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb,
                                        const void* expected, const void* data, CompareWriteCallback cb, void* arg,
                                        bool fua) {
  if (!cb || !expected || !data) return SubmitResult::invalid_argument;
  if (auto r = check_range(ns, slba, nlb); r != SubmitResult::ok) return r;
  if (fused_pairs_.empty()) {  // once per queue, not per I/O
    fused_pairs_.resize(depth());
    for (auto& p : fused_pairs_) fused_free_.push_back(&p);
  }
  // Both halves need an entry now: a first without its second is aborted by the controller.
  if (fused_free_.empty() || free_.size() < (reserve_entry_ ? 3u : 2u)) return SubmitResult::queue_full;
  FusedPair& pair = *fused_free_.back();
  pair = FusedPair{this, cb, arg, {}, {}, 2};
  const std::uint32_t length = nlb * ns.block_size;
  nvme::Sqe compare = make_compare(ns.nsid, slba, nlb);
  compare.flags = static_cast<std::uint8_t>(compare.flags | kFuseFirst);
  nvme::Sqe write = make_write(ns.nsid, slba, nlb, fua);
  write.flags = static_cast<std::uint8_t>(write.flags | kFuseSecond);
  SubmitResult r = submit_single(compare, expected, length, fabric::DataDirection::host_to_controller,
                                 &IoQueue::on_fused_compare, &pair);
  if (r != SubmitResult::ok) return r;  // nothing sent: the pair stays free
  fused_free_.pop_back();
  r = submit_single(write, data, length, fabric::DataDirection::host_to_controller, &IoQueue::on_fused_write, &pair);
  if (r != SubmitResult::ok) {
    // The connection went between the two (the entry was free): the Compare is out alone, and the controller
    // aborts it as missing its second (or it dies with the connection). Its completion ends the pair.
    pair.write = r == SubmitResult::disconnected ? kHostPathError : kAbortedByHost;
    --pair.left;
  }
  return SubmitResult::ok;
}

namespace {
struct FusedWaiter {
  bool done = false;
  CompareWriteStatus status;
};

void on_fused_sync_done(void* arg, nvme::Status compare, nvme::Status write) {
  auto* w = static_cast<FusedWaiter*>(arg);
  w->status = {compare, write};
  w->done = true;
}
}  // namespace

CompareWriteStatus IoQueue::compare_and_write_sync(const Namespace& ns, std::uint64_t slba, std::uint32_t nlb,
                                                   const void* expected, const void* data, bool fua) {
  FusedWaiter waiter;
  const auto deadline = Clock::now() + io_timeout_;
  for (;;) {
    const SubmitResult r = compare_and_write(ns, slba, nlb, expected, data, &on_fused_sync_done, &waiter, fua);
    if (r == SubmitResult::ok) break;
    if (r != SubmitResult::queue_full || Clock::now() >= deadline) {
      const nvme::Status st = r == SubmitResult::invalid_argument ? nvme::Status::generic(NVME_SC_INVALID_FIELD)
                              : r == SubmitResult::disconnected   ? kHostPathError
                                                                  : kAbortedByHost;
      return {st, st};
    }
    process_completions(std::chrono::milliseconds(1));
  }
  // As the other synchronous helpers: process_completions() enforces the I/O timeout, so both callbacks run.
  while (!waiter.done) process_completions(std::chrono::milliseconds(100));
  return waiter.status;
}

}  // namespace nvmf::initiator
