// The bucket layout of the I/O latency histograms kept by the target (per queue and namespace) and by the host
// library (per I/O queue): 4 buckets per power of two of nanoseconds, so a percentile read as its bucket's upper
// bound is at most 25% high; 0..3 ns exact; everything from 2^39 ns (about 9 minutes) up in the last bucket.
// Few enough buckets (156) to keep one histogram per queue and namespace, and a fixed layout, so a client can
// compute percentiles over any interval from two snapshots.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>

namespace nvmf::nvme {

struct LatencyBuckets {
  static constexpr std::size_t kCount = 156;

  static constexpr std::size_t index(std::uint64_t ns) {
    if (ns < 4) return static_cast<std::size_t>(ns);
    const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(ns));
    const std::size_t i = 4 * (msb - 1) + ((ns >> (msb - 2)) & 3);
    return i < kCount ? i : kCount - 1;
  }

  /// The largest latency (ns) bucket `i` holds; UINT64_MAX for the last one.
  static constexpr std::uint64_t upper_bound_ns(std::size_t i) {
    if (i < 4) return i;
    if (i >= kCount - 1) return UINT64_MAX;
    const unsigned msb = static_cast<unsigned>(i / 4 + 1);
    return (std::uint64_t(1) << msb) + ((std::uint64_t(i % 4) + 1) << (msb - 2)) - 1;
  }
};

static_assert(LatencyBuckets::index(3) == 3 && LatencyBuckets::index(4) == 4 && LatencyBuckets::index(7) == 7);
static_assert(LatencyBuckets::index(8) == 8 && LatencyBuckets::index(9) == 8 && LatencyBuckets::index(10) == 9);
static_assert(LatencyBuckets::upper_bound_ns(8) == 9 && LatencyBuckets::upper_bound_ns(11) == 15);
static_assert(LatencyBuckets::index(LatencyBuckets::upper_bound_ns(100)) == 100);
static_assert(LatencyBuckets::index(LatencyBuckets::upper_bound_ns(100) + 1) == 101);
static_assert(LatencyBuckets::index(UINT64_MAX) == LatencyBuckets::kCount - 1);

}  // namespace nvmf::nvme
