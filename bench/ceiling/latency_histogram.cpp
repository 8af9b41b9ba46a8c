#include "bench/ceiling/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace nvmf::bench {

unsigned LatencyHistogram::index_of(std::uint64_t ns) {
  if (ns < kSubBuckets) return static_cast<unsigned>(ns);  // exact below 32 ns
  unsigned exponent = 63 - static_cast<unsigned>(std::countl_zero(ns));
  if (exponent > kMaxExponent) return kBuckets - 1;
  unsigned mantissa = static_cast<unsigned>(ns >> (exponent - kSubBucketBits)) & (kSubBuckets - 1);
  return kSubBuckets + (exponent - kSubBucketBits) * kSubBuckets + mantissa;
}

std::uint64_t LatencyHistogram::upper_edge_ns(unsigned index) {
  if (index < kSubBuckets) return index;
  unsigned exponent = (index - kSubBuckets) / kSubBuckets + kSubBucketBits;
  std::uint64_t mantissa = (index - kSubBuckets) % kSubBuckets;
  std::uint64_t width = std::uint64_t{1} << (exponent - kSubBucketBits);
  return ((kSubBuckets + mantissa) << (exponent - kSubBucketBits)) + width - 1;
}

std::uint64_t LatencyHistogram::percentile_ns(double fraction) const {
  if (count_ == 0) return 0;
  auto wanted = static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(count_)));
  if (wanted == 0) wanted = 1;
  std::uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= wanted) return std::min(upper_edge_ns(i), max_ns_);
  }
  return max_ns_;
}

}  // namespace nvmf::bench
