// One I/O queue's statistics as the control path sees them: who the queue is (controller, QID), how many
// commands it holds, and one IoStats block per NSID it has served (NSID 0: commands that named no namespace of
// the table). The queue's reactor writes the blocks; blocks are created on the reactor when a namespace table
// is installed (Connect, a live namespace change), never per command, under a mutex only the control path
// shares. A block lives as long as the queue, so a command in flight keeps a valid pointer.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "target/io_stats.hpp"

namespace nvmf::target {

class QueueStats {
 public:
  QueueStats(std::uint16_t cntlid, std::uint16_t qid) : cntlid_(cntlid), qid_(qid) {}

  std::uint16_t cntlid() const { return cntlid_; }
  std::uint16_t qid() const { return qid_; }

  /// The block for `nsid`, created when missing. Reactor side, at table installation.
  IoStats* block(std::uint32_t nsid);

  /// Queue reactor only: commands handed to the queue and not yet completed.
  void set_in_flight(std::uint32_t n) { in_flight_.store(n, std::memory_order_relaxed); }

  /// NSID -> what the queue did for it; NSID 0 holds the commands that named no namespace.
  std::map<std::uint32_t, IoSnapshot> snapshot() const;
  std::uint32_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  const std::uint16_t cntlid_;
  const std::uint16_t qid_;
  std::atomic<std::uint32_t> in_flight_{0};
  mutable std::mutex mutex_;
  std::map<std::uint32_t, std::unique_ptr<IoStats>> blocks_;
};

}  // namespace nvmf::target
