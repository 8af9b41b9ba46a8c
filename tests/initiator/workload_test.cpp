// Perf statistics and the verify pattern: the numbers perf prints and the check that decides its exit code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "initiator/workload/latency_histogram.hpp"
#include "initiator/workload/perf_config.hpp"
#include "initiator/workload/verify_pattern.hpp"

using namespace nvmf::initiator;

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 100u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.percentile(0), 1u);
}

TEST(LatencyHistogram, BucketsCoverEveryValueContiguously) {
  for (unsigned i = 1; i < LatencyHistogram::kBuckets; ++i) {
    std::uint64_t upper_prev = LatencyHistogram::bucket_upper(i - 1);
    EXPECT_EQ(LatencyHistogram::bucket_index(upper_prev), i - 1);
    if (upper_prev == UINT64_MAX) break;
    EXPECT_EQ(LatencyHistogram::bucket_index(upper_prev + 1), i) << i;
  }
  EXPECT_EQ(LatencyHistogram::bucket_index(UINT64_MAX), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogram, PercentilesWithinRelativeErrorOfExact) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(10.0, 1.0);  // ~ 22 us median, long tail
  std::vector<std::uint64_t> values;
  LatencyHistogram h;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    auto exact = values[static_cast<std::size_t>(std::ceil(p / 100 * values.size())) - 1];
    auto got = h.percentile(p);
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * (1 + 1.0 / 128) + 1) << p;
  }
}

TEST(LatencyHistogram, MergeAddsCounts) {
  LatencyHistogram a, b;
  a.record(1000);
  b.record(3000);
  b.record(5);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 5u);
  EXPECT_EQ(a.max(), 3000u);
  EXPECT_EQ(a.percentile(100), 3000u);
  LatencyHistogram empty;
  EXPECT_EQ(empty.percentile(50), 0u);
  EXPECT_EQ(empty.min(), 0u);
}

TEST(PerfConfig, PatternNames) {
  EXPECT_EQ(parse_perf_pattern("randrw"), PerfPattern::randrw);
  EXPECT_EQ(parse_perf_pattern("write"), PerfPattern::write);
  EXPECT_FALSE(parse_perf_pattern("random"));
  EXPECT_TRUE(is_random(PerfPattern::randread));
  EXPECT_FALSE(is_random(PerfPattern::rw));
}

class VerifyPattern : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(VerifyPattern, RoundTripAndEachFailureKind) {
  const std::uint32_t bs = GetParam();
  std::vector<std::uint8_t> buf(bs * 4);
  fill_verify_blocks(buf.data(), bs, 100, 4, 0xabc);
  EXPECT_TRUE(check_verify_blocks(buf.data(), bs, 100, 4, 0xabc));

  // Read from the wrong place: the block says which LBA it holds.
  VerifyResult r = check_verify_blocks(buf.data(), bs, 101, 4, 0xabc);
  EXPECT_EQ(r.error, VerifyError::wrong_lba);
  EXPECT_EQ(r.lba, 101u);
  EXPECT_EQ(r.found_lba, 100u);
  // Another run's data.
  EXPECT_EQ(check_verify_blocks(buf.data(), bs, 100, 4, 0xabd).error, VerifyError::wrong_seed);
  // A flipped payload bit in block 2 breaks its checksum.
  auto corrupt = buf;
  corrupt[2 * bs + bs / 2] ^= 0x10;
  r = check_verify_blocks(corrupt.data(), bs, 100, 4, 0xabc);
  EXPECT_EQ(r.error, VerifyError::bad_checksum);
  EXPECT_EQ(r.lba, 102u);
  // Zeroes (never written).
  std::vector<std::uint8_t> zero(bs);
  EXPECT_EQ(check_verify_block(zero.data(), bs, 0, 1).error, VerifyError::bad_magic);
  EXPECT_NE(r.to_string().find("102"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, VerifyPattern, ::testing::Values(512u, 4096u));

TEST(VerifyPatternPayload, DifferentLbasDiffer) {
  std::vector<std::uint8_t> a(512), b(512);
  fill_verify_block(a.data(), 512, 1, 9);
  fill_verify_block(b.data(), 512, 2, 9);
  EXPECT_NE(std::memcmp(a.data() + 24, b.data() + 24, 400), 0);
}

#include "nvme/crc32c.hpp"

TEST(VerifyPatternPayload, ValidChecksumButForeignPayloadIsCaught) {
  std::vector<std::uint8_t> a(512);
  fill_verify_block(a.data(), 512, 5, 9);
  a[100] ^= 1;
  std::uint32_t crc = nvmf::nvme::crc32c(a.data(), 512 - 8);
  std::memcpy(a.data() + 512 - 8, &crc, 4);
  EXPECT_EQ(check_verify_block(a.data(), 512, 5, 9).error, VerifyError::bad_payload);
}
