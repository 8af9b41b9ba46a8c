// The target's I/O queues by reactor, for the range locks (lba_range_lock.hpp): a lock must reach every reactor
// that runs commands and, there, every queue. Registration and lookups are control-path operations (queue
// creation and destruction, range-lock slow path) under one mutex; the data path never touches it.
#pragma once
#include <vector>

namespace nvmf::fabric {
class Reactor;
}

namespace nvmf::target {

class IoQueue;

/// Called on `reactor` when the queue is built and when it is destroyed.
void register_io_queue(fabric::Reactor& reactor, IoQueue& queue);
void unregister_io_queue(fabric::Reactor& reactor, IoQueue& queue);
/// Every reactor with at least one I/O queue now.
std::vector<fabric::Reactor*> reactors_with_io_queues();
/// The queues on `reactor`; call on that reactor (queues come and go only there, so the list stays true while the
/// caller runs, as long as it does not destroy queues itself).
std::vector<IoQueue*> io_queues_on(fabric::Reactor& reactor);
/// Runs IoQueue::retry_parked on every queue of `reactor`, on that reactor (posted).
void wake_parked(fabric::Reactor& reactor);

}  // namespace nvmf::target
