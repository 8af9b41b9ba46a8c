#include "target/lba_range_lock.hpp"

#include <algorithm>

#include "fabric/reactor.hpp"
#include "nvme/libnvme.hpp"
#include "target/io_queue.hpp"
#include "target/io_queue_registry.hpp"

namespace nvmf::target {

LbaRange command_range(const nvme::Sqe& sqe) {
  switch (sqe.opcode) {
    case nvme_cmd_read:
    case nvme_cmd_write:
    case nvme_cmd_compare:
    case nvme_cmd_write_zeroes: {
      const std::uint64_t first = sqe.slba();
      const std::uint64_t count = (sqe.cdw12 & 0xFFFFu) + 1u;
      // An SLBA near 2^64 is refused later (LBA Out of Range); until then it must not wrap.
      const std::uint64_t end = first > std::numeric_limits<std::uint64_t>::max() - count
                                    ? std::numeric_limits<std::uint64_t>::max() : first + count;
      return {first, end};
    }
    case nvme_cmd_dsm:
      return {0, std::numeric_limits<std::uint64_t>::max()};
    default:
      return {};
  }
}

LbaRangeLock::Entry* LbaRangeLock::overlapping_locked(const LbaRange& range) {
  for (Entry& e : entries_)
    if (e.range.overlaps(range)) return &e;
  return nullptr;
}

bool LbaRangeLock::admit(const LbaRange& range, fabric::Reactor& waiter) {
  std::lock_guard lock(mutex_);
  Entry* e = overlapping_locked(range);
  if (!e) return true;
  if (std::find(e->waiters.begin(), e->waiters.end(), &waiter) == e->waiters.end()) e->waiters.push_back(&waiter);
  return false;
}

bool LbaRangeLock::try_lock(const LbaRange& range, fabric::Reactor& waiter, std::function<void()> granted,
                            std::uint64_t& id) {
  {
    std::lock_guard lock(mutex_);
    if (Entry* e = overlapping_locked(range)) {
      if (std::find(e->waiters.begin(), e->waiters.end(), &waiter) == e->waiters.end()) e->waiters.push_back(&waiter);
      return false;
    }
    id = next_id_++;
    entries_.push_back(Entry{id, range, {}});
    engaged_.fetch_add(1, std::memory_order_relaxed);
  }
  // Step 1 of the ordering argument: the reactors are listed after the increment. The caller's own reactor is
  // among them (its queue is registered), so the list is never empty.
  const std::vector<fabric::Reactor*> reactors = reactors_with_io_queues();
  auto left = std::make_shared<std::atomic<std::size_t>>(reactors.size());
  auto acknowledged = [left, owner = &waiter, granted = std::move(granted)] {
    if (left->fetch_sub(1) == 1) owner->post(granted);
  };
  auto self = shared_from_this();
  for (fabric::Reactor* reactor : reactors)
    reactor->post([self, range, reactor, acknowledged] {
      // Step 2: on this reactor, wait for the overlapping commands that passed the gate before this task.
      const std::vector<IoQueue*> queues = io_queues_on(*reactor);
      auto pending = std::make_shared<std::size_t>(queues.size() + 1);
      auto one_done = [pending, acknowledged] {
        if (--*pending == 0) acknowledged();  // this reactor's queues only: no atomics needed
      };
      for (IoQueue* q : queues) q->when_range_drained(*self, range, one_done);
      one_done();
    });
  return true;
}

void LbaRangeLock::unlock(std::uint64_t id) {
  std::vector<fabric::Reactor*> waiters;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(entries_.begin(), entries_.end(), [id](const Entry& e) { return e.id == id; });
    if (it == entries_.end()) return;
    waiters = std::move(it->waiters);
    entries_.erase(it);
    engaged_.fetch_sub(1, std::memory_order_relaxed);
  }
  for (fabric::Reactor* r : waiters) wake_parked(*r);
}

std::size_t LbaRangeLock::locks() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace nvmf::target
