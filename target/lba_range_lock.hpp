// LBA range locks of one namespace: what makes a fused Compare and Write atomic against every other command on
// the namespace, from any queue of any controller, on any reactor.
//
// The data path pays one relaxed atomic load per command (engaged()). Only while a lock is pending or held does
// a command take the slow path (admit(), under a mutex): a command overlapping a lock is parked by its queue and
// retried on its reactor when that lock goes.
//
// Why a lock, once granted, excludes every overlapping command (the ordering argument):
// 1. try_lock() inserts the entry and increments engaged_ under mutex_, then lists the reactors that have I/O
//    queues (io_queue_registry) and posts a drain task to each. Reactor::post() orders what the poster did before
//    it before what the task does (the posted-task mutex), and a reactor runs its tasks between commands.
// 2. On each such reactor R, every command handled after R ran the task happens after the increment, so its load
//    of engaged_ sees a non-zero count (the increment, or a later value of the same RMW sequence, which still
//    includes it until unlock()) and it goes through admit(), which sees the entry and parks the command when
//    it overlaps. Every command R handled before the task that passed the gate is either finished or still
//    holds its context in a queue registered on R: the task waits (IoQueue::when_range_drained) for those that
//    overlap the range to complete. Commands parked by admit() or other fused pairs are not waited for: they
//    have not touched the backend, and waiting for them would deadlock.
// 3. A queue registered on a reactor after step 1 listed the reactors registered under the registry's mutex after
//    the listing, so after the increment: its commands see engaged_ != 0 as in 2.
// 4. Two overlapping locks never coexist: try_lock() refuses (and wakes the caller later) while one overlaps.
// So once every listed reactor has acknowledged, no other command on the range is at the backend and none
// reaches it until unlock(), which removes the entry and wakes the reactors of the commands it parked.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "nvme/sqe.hpp"

namespace nvmf::fabric {
class Reactor;
}

namespace nvmf::target {

/// Blocks [first, end) of a namespace; empty when first == end.
struct LbaRange {
  std::uint64_t first = 0;
  std::uint64_t end = 0;
  bool overlaps(const LbaRange& o) const { return first < o.end && o.first < end; }
};

/// The blocks an I/O command reads or changes: its SLBA/NLB range (Read, Write, Compare, Write Zeroes), every block
/// for Dataset Management (its ranges are in its data, which may not have arrived), none for the others (Flush
/// and the reservation commands touch no block's contents).
LbaRange command_range(const nvme::Sqe& sqe);

class LbaRangeLock : public std::enable_shared_from_this<LbaRangeLock> {
 public:
  /// Data path: a lock is pending or held on the namespace (one relaxed load; see the ordering argument above).
  bool engaged() const { return engaged_.load(std::memory_order_relaxed) != 0; }
  /// Slow path (engaged() was true): true when no lock overlaps `range`; otherwise `waiter` (the caller's reactor)
  /// is woken (io_queue_registry: retry_parked on its queues) when the overlapping lock goes.
  bool admit(const LbaRange& range, fabric::Reactor& waiter);
  /// A fused pair asks for `range`. False: an overlapping lock exists and `waiter` is woken when it goes (try
  /// again then). True: the lock is pending and `granted` runs on `waiter` once every reactor drained the
  /// overlapping commands; `id` names it for unlock().
  bool try_lock(const LbaRange& range, fabric::Reactor& waiter, std::function<void()> granted, std::uint64_t& id);
  /// Releases lock `id` (any thread) and wakes the reactors of the commands it parked.
  void unlock(std::uint64_t id);

  /// Locks pending or held (tests).
  std::size_t locks() const;

 private:
  struct Entry {
    std::uint64_t id = 0;
    LbaRange range;
    std::vector<fabric::Reactor*> waiters;  ///< Reactors with commands parked on this entry (no duplicates)
  };
  Entry* overlapping_locked(const LbaRange& range);

  std::atomic<std::uint32_t> engaged_{0};  ///< entries_.size(), readable without the mutex
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  std::uint64_t next_id_ = 1;
};

}  // namespace nvmf::target
