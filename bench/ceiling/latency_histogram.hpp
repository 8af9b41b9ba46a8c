// Latency histogram with log-linear buckets (32 per power of two, so a bucket is at most ~3% wide), fixed size:
// recording is a few instructions and never allocates. Mean, min and max are exact; percentiles are the upper
// edge of the bucket that holds them, the convention fio and spdk_nvme_perf use.
#pragma once
#include <array>
#include <cstdint>
#include <limits>

namespace nvmf::bench {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBucketBits = 5;
  static constexpr unsigned kSubBuckets = 1u << kSubBucketBits;
  static constexpr unsigned kMaxExponent = 40;  ///< 2^41 ns ~ 36 minutes; longer values land in the last bucket
  static constexpr unsigned kBuckets = kSubBuckets + (kMaxExponent - kSubBucketBits + 1) * kSubBuckets;

  void record(std::uint64_t ns) {
    ++counts_[index_of(ns)];
    ++count_;
    sum_ns_ += ns;
    if (ns < min_ns_) min_ns_ = ns;
    if (ns > max_ns_) max_ns_ = ns;
  }

  std::uint64_t count() const { return count_; }
  double mean_ns() const { return count_ ? static_cast<double>(sum_ns_) / static_cast<double>(count_) : 0.0; }
  std::uint64_t min_ns() const { return count_ ? min_ns_ : 0; }
  std::uint64_t max_ns() const { return max_ns_; }
  /// Smallest bucket upper edge below which at least `fraction` (0..1] of the samples lie.
  std::uint64_t percentile_ns(double fraction) const;

  /// Non-empty buckets in order, as (inclusive upper edge in ns, count).
  template <typename Visit>
  void for_each_bucket(Visit&& visit) const {
    for (unsigned i = 0; i < kBuckets; ++i)
      if (counts_[i]) visit(upper_edge_ns(i), counts_[i]);
  }

  static unsigned index_of(std::uint64_t ns);
  static std::uint64_t upper_edge_ns(unsigned index);

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ns_ = 0;
  std::uint64_t min_ns_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ns_ = 0;
};

}  // namespace nvmf::bench
