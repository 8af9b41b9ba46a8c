#include "target/queue_stats.hpp"

namespace nvmf::target {

IoStats* QueueStats::block(std::uint32_t nsid) {
  std::lock_guard lock(mutex_);
  auto& b = blocks_[nsid];
  if (!b) b = std::make_unique<IoStats>();
  return b.get();
}

std::map<std::uint32_t, IoSnapshot> QueueStats::snapshot() const {
  std::lock_guard lock(mutex_);
  std::map<std::uint32_t, IoSnapshot> out;
  for (const auto& [nsid, b] : blocks_) out.emplace(nsid, b->snapshot());
  return out;
}

}  // namespace nvmf::target
