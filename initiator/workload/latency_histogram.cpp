#include "initiator/workload/latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace nvmf::initiator {

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (unsigned i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() { *this = LatencyHistogram(); }

std::uint64_t LatencyHistogram::bucket_upper(unsigned index) {
  const unsigned range = index / kSubBuckets, sub = index % kSubBuckets;
  if (range == 0) return sub;
  // Range r covers [2^(r+6), 2^(r+7)) split into 128 buckets of width 2^(r-1).
  const unsigned shift = range - 1;
  const std::uint64_t lower = (std::uint64_t(kSubBuckets) + sub) << shift;
  return lower + ((std::uint64_t(1) << shift) - 1);
}

std::uint64_t LatencyHistogram::percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  // Rank of the sample (1-based) at this percentile: the smallest rank covering percent % of the samples.
  auto rank = static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(bucket_upper(i), min(), max_);
  }
  return max_;
}

}  // namespace nvmf::initiator
