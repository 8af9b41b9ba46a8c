// How many RMA reads of host data a controller queue keeps outstanding, and the commands waiting for one: the
// host's IRD (RDMA CM's initiator depth) for verbs, a fixed cap for libfabric, which negotiates none. Shared by
// the rdma and ofi controller queues; fixed capacity, no allocation after reset().
#pragma once
#include <cstdint>

#include "fabric/capsule_queue/command_slots.hpp"
#include "fabric/rdma/index_ring.hpp"

namespace nvmf::fabric::capsule_queue {

/// True when the command's host-to-controller data is still at the host behind a keyed SGL: a read is due.
inline bool needs_read(const CommandSlot& slot) {
  return !slot.req.data_ready && slot.data.location == rdma::DataLocation::keyed &&
         slot.data.direction == DataDirection::host_to_controller;
}

class ReadCredits {
 public:
  void reset(std::uint16_t depth, std::uint32_t limit) {
    waiting_.reset(depth);
    limit_ = limit ? limit : 1;
    outstanding_ = 0;
  }
  /// A read for slot `index`: true when it may be posted now (a credit taken), false when it waits its turn.
  bool acquire(std::uint16_t index) {
    if (outstanding_ < limit_) {
      ++outstanding_;
      return true;
    }
    waiting_.push(index);
    return false;
  }
  /// A read completed or failed to post: its credit comes back.
  void release() { --outstanding_; }
  /// The next waiting read once a credit is free: true with its slot, the credit taken.
  bool next_waiting(std::uint16_t* index) {
    if (waiting_.empty() || outstanding_ >= limit_) return false;
    *index = static_cast<std::uint16_t>(waiting_.pop());
    ++outstanding_;
    return true;
  }
  /// At close: the waiting reads, one by one, without a credit (they are never posted).
  bool drop_waiting(std::uint16_t* index) {
    if (waiting_.empty()) return false;
    *index = static_cast<std::uint16_t>(waiting_.pop());
    return true;
  }
  std::uint32_t outstanding() const { return outstanding_; }

 private:
  rdma::IndexRing waiting_;
  std::uint32_t limit_ = 1;
  std::uint32_t outstanding_ = 0;
};

}  // namespace nvmf::fabric::capsule_queue
