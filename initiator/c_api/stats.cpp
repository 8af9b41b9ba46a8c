// nvmf_qpair_get_stats / nvmf_ctrl_get_stats: the host library's per-queue I/O statistics (initiator/io_stats.hpp)
// in the C API's versioned struct.
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "initiator/c_api/c_api_internal.hpp"

namespace {
using nvmf::initiator::IoStatsSnapshot;

static_assert(NVMF_IO_STATS_LATENCY_BUCKETS == nvmf::nvme::LatencyBuckets::kCount);
/// The first version of the struct ends after the histogram; a smaller size is a caller's mistake.
constexpr std::size_t kFirstVersionSize = offsetof(nvmf_io_stats, latency_buckets) + sizeof(nvmf_io_stats::latency_buckets);

bool usable(const nvmf_io_stats* stats) { return stats && stats->stats_size >= kFirstVersionSize; }

void fill(nvmf_io_stats* out, const IoStatsSnapshot& s, std::uint32_t queues) {
  nvmf_io_stats v{};
  v.stats_size = out->stats_size < sizeof v ? out->stats_size : sizeof v;
  v.read_commands = s.read_commands;
  v.write_commands = s.write_commands;
  v.other_commands = s.other_commands;
  v.bytes_read = s.bytes_read;
  v.bytes_written = s.bytes_written;
  v.errors = s.errors;
  v.outstanding = static_cast<std::uint32_t>(s.outstanding);
  v.queues = queues;
  v.latency_sum_ns = s.latency_sum_ns;
  v.latency_count = s.latency_count();
  v.latency_p50_ns = s.latency_quantile_ns(0.5);
  v.latency_p99_ns = s.latency_quantile_ns(0.99);
  v.latency_p999_ns = s.latency_quantile_ns(0.999);
  for (std::size_t i = 0; i < s.latency_buckets.size(); ++i) v.latency_buckets[i] = s.latency_buckets[i];
  // A newer caller's struct is larger: what this library does not know stays as the caller left it.
  std::memcpy(out, &v, v.stats_size);
}
}  // namespace

extern "C" {

int nvmf_qpair_get_stats(nvmf_qpair* qp, struct nvmf_io_stats* stats) {
  if (!qp || !usable(stats)) return -EINVAL;
  fill(stats, qp->queue->stats()->snapshot(), 1);
  return 0;
}

int nvmf_ctrl_get_stats(nvmf_ctrl* ctrl, struct nvmf_io_stats* stats) {
  if (!ctrl || !usable(stats)) return -EINVAL;
  std::lock_guard lock(ctrl->stats_mutex);
  IoStatsSnapshot total = ctrl->retired_stats;
  for (const auto& [qp, s] : ctrl->live_stats) total += s->snapshot();
  fill(stats, total, static_cast<std::uint32_t>(ctrl->live_stats.size()));
  return 0;
}

uint64_t nvmf_io_stats_bucket_upper_ns(unsigned index) { return nvmf::nvme::LatencyBuckets::upper_bound_ns(index); }

}  // extern "C"
