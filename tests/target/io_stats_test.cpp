// The target's I/O statistics: the histogram's buckets and percentiles, failures by status, and the subsystem's
// sums (live queues plus what closed ones left, per namespace and controller), through the public types.
#include <gtest/gtest.h>

#include "target/io_stats.hpp"
#include "target/queue_stats.hpp"
#include "target/subsystem.hpp"

namespace nvmf::target {
namespace {

TEST(LatencyBuckets, EveryValueFallsInTheBucketWhoseBoundsHoldIt) {
  for (std::uint64_t v : {0ull, 1ull, 3ull, 4ull, 5ull, 1000ull, 1023ull, 1024ull, 123456789ull, 1ull << 38}) {
    const std::size_t i = LatencyBuckets::index(v);
    EXPECT_LE(v, LatencyBuckets::upper_bound_ns(i)) << v;
    if (i > 0) {
      EXPECT_GT(v, LatencyBuckets::upper_bound_ns(i - 1)) << v;
    }
    // Relative width under 25%: the bound overstates by at most a quarter of the value.
    EXPECT_LE(LatencyBuckets::upper_bound_ns(i) - v, v / 4 + 1) << v;
  }
  EXPECT_EQ(LatencyBuckets::index(UINT64_MAX), LatencyBuckets::kCount - 1);
}

TEST(IoStats, CountsSuccessesPerOperationWithTheirLatency) {
  IoStats s;
  for (int i = 0; i < 98; ++i) s.count_success(OpClass::read, 4096, 10'000);  // 10 us
  s.count_success(OpClass::read, 4096, 1'000'000);                            // 1 ms
  s.count_success(OpClass::read, 4096, 100'000'000);                          // 100 ms
  s.count_success(OpClass::write, 512, 20'000);
  s.count_success(OpClass::other, 0, 5'000);
  const IoSnapshot snap = s.snapshot();
  EXPECT_EQ(snap.op(OpClass::read).commands, 100u);
  EXPECT_EQ(snap.op(OpClass::read).bytes, 409600u);
  EXPECT_EQ(snap.op(OpClass::write).commands, 1u);
  EXPECT_EQ(snap.op(OpClass::other).commands, 1u);
  const LatencySnapshot& l = snap.op(OpClass::read).latency;
  EXPECT_EQ(l.count, 100u);
  EXPECT_EQ(l.sum_ns, 98u * 10'000 + 1'000'000 + 100'000'000);
  EXPECT_GE(l.quantile_ns(0.5), 10'000u);
  EXPECT_LE(l.quantile_ns(0.5), 12'500u);
  EXPECT_LE(l.quantile_ns(0.98), 12'500u);
  EXPECT_GE(l.quantile_ns(0.99), 1'000'000u);
  EXPECT_LE(l.quantile_ns(0.99), 1'250'000u);
  EXPECT_GE(l.quantile_ns(0.999), 100'000'000u);
  EXPECT_EQ(LatencySnapshot{}.quantile_ns(0.5), 0u);
}

TEST(IoStats, CountsFailuresByStatusWithAnOverflowSlot) {
  IoStats s;
  s.count_error(nvme::Status::generic(NVME_SC_LBA_RANGE));
  s.count_error(nvme::Status::generic(NVME_SC_LBA_RANGE).with_dnr());  // DNR is not part of the code
  s.count_error(nvme::Status::media(NVME_SC_COMPARE_FAILED));
  IoSnapshot snap = s.snapshot();
  EXPECT_EQ(snap.errors.size(), 2u);
  EXPECT_EQ(snap.errors[NVME_SC_LBA_RANGE], 2u);
  EXPECT_EQ(snap.media_errors(), 1u);
  EXPECT_EQ(snap.error_count(), 3u);
  // Ten more distinct statuses: the slots fill, the rest share 0xFFFF; nothing is lost.
  for (std::uint8_t sc = 0x10; sc < 0x1a; ++sc) s.count_error(nvme::Status::generic(sc));
  snap = s.snapshot();
  EXPECT_EQ(snap.error_count(), 13u);
  EXPECT_EQ(snap.errors.size(), 8u);
  EXPECT_GT(snap.errors[0xFFFF], 0u);
}

TEST(SubsystemStats, ClosedQueuesStayInSubsystemAndNamespaceTotals) {
  Subsystem sub(SubsystemKind::nvm, {"nqn.2024-01.io.test:stats", "s", "m", "f"}, {},
                std::make_shared<const NamespaceTable>());
  auto q1 = std::make_shared<QueueStats>(1, 1);
  auto q2 = std::make_shared<QueueStats>(2, 1);
  q1->block(1)->count_success(OpClass::read, 4096, 1000);
  q1->block(2)->count_success(OpClass::write, 512, 1000);
  q1->block(0)->count_error(nvme::Status::generic(NVME_SC_INVALID_NS));
  q2->block(1)->count_success(OpClass::read, 4096, 1000);
  q2->set_in_flight(3);
  sub.register_queue_stats(q1);
  sub.register_queue_stats(q2);

  Subsystem::StatsReport r = sub.stats_report();
  EXPECT_EQ(r.total.op(OpClass::read).commands, 2u);
  EXPECT_EQ(r.total.in_flight, 3u);
  EXPECT_EQ(r.namespaces.at(1).op(OpClass::read).commands, 2u);
  EXPECT_EQ(r.namespaces.at(2).op(OpClass::write).bytes, 512u);
  EXPECT_EQ(r.namespaces.count(0), 0u);  // no namespace: counted in the queue and the total only
  EXPECT_EQ(r.total.error_count(), 1u);
  ASSERT_EQ(r.queues.size(), 2u);
  EXPECT_EQ(r.queues[0].cntlid, 1u);
  EXPECT_EQ(r.queues[1].stats.in_flight, 3u);
  EXPECT_EQ(sub.io_totals().read_commands, 2u);
  EXPECT_EQ(sub.io_totals().bytes_written, 512u);

  sub.retire_queue_stats(q1);
  sub.retire_queue_stats(q2);
  sub.retire_queue_stats(q2);  // twice: counted once
  r = sub.stats_report();
  EXPECT_TRUE(r.queues.empty());
  EXPECT_EQ(r.total.op(OpClass::read).commands, 2u);
  EXPECT_EQ(r.total.in_flight, 0u);
  EXPECT_EQ(r.total.error_count(), 1u);
  EXPECT_EQ(r.namespaces.at(1).op(OpClass::read).commands, 2u);
  EXPECT_EQ(r.namespaces.at(1).op(OpClass::read).latency.count, 2u);
  EXPECT_EQ(sub.io_totals().read_commands, 2u);
}

}  // namespace
}  // namespace nvmf::target
