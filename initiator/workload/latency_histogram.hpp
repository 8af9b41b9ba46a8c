// Latency histogram for perf: log-linear buckets (as SPDK's histogram_data and HdrHistogram): values below 2^7 ns
// are exact, above that each power-of-two range is split into 128 linear buckets, so any percentile is within
// 1/128 (< 0.8 %) of the true value. Fixed storage, no allocation when recording.
#pragma once
#include <array>
#include <cstdint>
#include <limits>

namespace nvmf::initiator {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 7;
  static constexpr unsigned kSubBuckets = 1u << kSubBits;
  static constexpr unsigned kRanges = 64 - kSubBits + 1;
  static constexpr unsigned kBuckets = kRanges * kSubBuckets;

  void record(std::uint64_t ns) {
    ++buckets_[bucket_index(ns)];
    ++count_;
    sum_ += ns;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }
  void merge(const LatencyHistogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  /// The value below which `percent` % of the samples fall (upper edge of the bucket holding that rank,
  /// clamped to the exact max). 0 when empty.
  std::uint64_t percentile(double percent) const;

  static unsigned bucket_index(std::uint64_t v) {
    if (v < kSubBuckets) return static_cast<unsigned>(v);
    const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
    const unsigned range = msb - kSubBits + 1;
    const unsigned sub = static_cast<unsigned>(v >> (msb - kSubBits)) & (kSubBuckets - 1);
    return range * kSubBuckets + sub;
  }
  /// Samples in bucket `index` (0 .. kBuckets - 1).
  std::uint64_t bucket_count(unsigned index) const { return buckets_[index]; }
  /// Largest value that lands in bucket `index`.
  static std::uint64_t bucket_upper(unsigned index);

 private:
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
};

}  // namespace nvmf::initiator
