#include "initiator/io_stats.hpp"

#include <algorithm>
#include <cmath>

namespace nvmf::initiator {

IoStatsSnapshot& IoStatsSnapshot::operator+=(const IoStatsSnapshot& o) {
  read_commands += o.read_commands;
  write_commands += o.write_commands;
  other_commands += o.other_commands;
  bytes_read += o.bytes_read;
  bytes_written += o.bytes_written;
  errors += o.errors;
  outstanding += o.outstanding;
  latency_sum_ns += o.latency_sum_ns;
  for (std::size_t i = 0; i < latency_buckets.size(); ++i) latency_buckets[i] += o.latency_buckets[i];
  return *this;
}

std::uint64_t IoStatsSnapshot::latency_count() const {
  std::uint64_t n = 0;
  for (std::uint64_t b : latency_buckets) n += b;
  return n;
}

std::uint64_t IoStatsSnapshot::latency_quantile_ns(double q) const {
  const std::uint64_t total = latency_count();
  if (total == 0) return 0;
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < latency_buckets.size(); ++i)
    if ((seen += latency_buckets[i]) >= rank) return nvme::LatencyBuckets::upper_bound_ns(i);
  return nvme::LatencyBuckets::upper_bound_ns(latency_buckets.size() - 1);
}

IoStatsSnapshot IoStats::snapshot() const {
  IoStatsSnapshot s;
  s.read_commands = read_commands_.load(std::memory_order_relaxed);
  s.write_commands = write_commands_.load(std::memory_order_relaxed);
  s.other_commands = other_commands_.load(std::memory_order_relaxed);
  s.bytes_read = bytes_read_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.latency_sum_ns = latency_sum_ns_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < buckets_.size(); ++i) s.latency_buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  // Another thread may see the counters at slightly different moments: clamp rather than wrap.
  const std::uint64_t submitted = submitted_.load(std::memory_order_relaxed);
  const std::uint64_t completed = s.read_commands + s.write_commands + s.other_commands + s.errors;
  s.outstanding = submitted > completed ? submitted - completed : 0;
  return s;
}

}  // namespace nvmf::initiator
