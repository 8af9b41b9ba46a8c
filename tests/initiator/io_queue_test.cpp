// IoQueue through the HostQueue seam: a scripted queue stands in for the transport and records what the block
// API submits, so argument checks, SGL building, slot recycling and callbacks are tested without a network.
#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/commands.hpp"
#include "initiator/io_queue.hpp"
#include "tests/initiator/scripted_host_queue.hpp"

using namespace nvmf;
using namespace nvmf::initiator;

namespace {
using test::Done;
using test::on_done;
using test::ScriptedQueue;

class IoQueueTest : public ::testing::Test {
 protected:
  IoQueueTest() {
    auto q = std::make_unique<ScriptedQueue>(reactor, 4);
    fake = q.get();
    queue = std::make_unique<IoQueue>(std::move(q), 1, std::chrono::milliseconds(200), [this] { destroyed = true; });
    ns.nsid = 1;
    ns.block_size = 512;
    ns.capacity_blocks = 1000;
    ns.max_transfer_blocks = 256;
  }
  fabric::Reactor reactor{0};
  ScriptedQueue* fake = nullptr;
  std::unique_ptr<IoQueue> queue;
  Namespace ns;
  bool destroyed = false;
  void drain() {  // complete what a test left outstanding while its callback arguments are still alive
    while (!fake->pending.empty()) fake->complete_front(nvme::Status());
  }
};
}  // namespace

TEST_F(IoQueueTest, ReadBuildsCommandAndSingleBuffer) {
  std::vector<std::uint8_t> buf(8 * 512);
  Done done;
  ASSERT_EQ(queue->read(ns, 992, 8, buf.data(), &on_done, &done), SubmitResult::ok);
  ASSERT_EQ(fake->pending.size(), 1u);
  fabric::HostRequest& req = *fake->pending.front();
  EXPECT_EQ(req.sqe.opcode, nvme_cmd_read);
  EXPECT_EQ(req.sqe.slba(), 992u);
  EXPECT_EQ(req.sqe.cdw12, 7u);
  EXPECT_EQ(req.direction, fabric::DataDirection::controller_to_host);
  ASSERT_EQ(req.iovcnt, 1u);
  EXPECT_EQ(req.iov[0].iov_base, buf.data());
  EXPECT_EQ(req.iov[0].iov_len, 8u * 512);
  fake->complete_front(nvme::Status());
  EXPECT_EQ(done.calls, 1);
  EXPECT_TRUE(done.status.ok());
}

TEST_F(IoQueueTest, RejectsBadRanges) {
  std::vector<std::uint8_t> buf(512 * 300);
  Done done;
  EXPECT_EQ(queue->read(ns, 993, 8, buf.data(), &on_done, &done), SubmitResult::invalid_argument);  // past the end
  EXPECT_EQ(queue->read(ns, 0, 0, buf.data(), &on_done, &done), SubmitResult::invalid_argument);
  EXPECT_EQ(queue->write(ns, 0, 257, buf.data(), &on_done, &done), SubmitResult::invalid_argument);  // > MDTS
  EXPECT_EQ(queue->read(ns, UINT64_MAX, 1, buf.data(), &on_done, &done), SubmitResult::invalid_argument);
  iovec iov[2] = {{buf.data(), 512}, {buf.data() + 512, 100}};
  EXPECT_EQ(queue->readv(ns, 0, 2, iov, 2, &on_done, &done), SubmitResult::invalid_argument);  // 612 != 1024
  nvme_dsm_range range{0, 10, 995};
  EXPECT_EQ(queue->deallocate(ns, &range, 1, &on_done, &done), SubmitResult::invalid_argument);
  EXPECT_EQ(fake->submitted, 0u);
  EXPECT_EQ(done.calls, 0);
}

TEST_F(IoQueueTest, ScatterGatherWriteKeepsCallerIovecs) {
  std::vector<std::uint8_t> a(512), b(1024);
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  Done done;
  ASSERT_EQ(queue->writev(ns, 10, 3, iov, 2, &on_done, &done, true), SubmitResult::ok);
  fabric::HostRequest& req = *fake->pending.front();
  EXPECT_EQ(req.sqe.opcode, nvme_cmd_write);
  EXPECT_EQ(req.sqe.cdw12, 2u | 1u << 30);
  EXPECT_EQ(req.iov, iov);
  EXPECT_EQ(req.iovcnt, 2u);
  EXPECT_EQ(req.direction, fabric::DataDirection::host_to_controller);
  fake->complete_front(nvme::Status::make(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT));
  EXPECT_EQ(done.status.sc(), NVME_SC_WRITE_FAULT);
}

TEST_F(IoQueueTest, QueueFullThenSlotRecycledFromCallback) {
  std::vector<std::uint8_t> buf(512);
  Done done[5];
  for (int i = 0; i < 4; ++i) ASSERT_EQ(queue->read(ns, i, 1, buf.data(), &on_done, &done[i]), SubmitResult::ok);
  EXPECT_EQ(queue->read(ns, 4, 1, buf.data(), &on_done, &done[4]), SubmitResult::queue_full);
  fake->complete_front(nvme::Status());
  EXPECT_EQ(queue->read(ns, 4, 1, buf.data(), &on_done, &done[4]), SubmitResult::ok);
  EXPECT_EQ(fake->pending.back()->sqe.slba(), 4u);
  drain();
  for (auto& d : done) EXPECT_EQ(d.calls, 1);
}

TEST_F(IoQueueTest, DeallocateAndWriteZeroesAndFlush) {
  nvme_dsm_range ranges[2] = {{0, 8, 0}, {0, 16, 100}};
  Done done;
  ASSERT_EQ(queue->deallocate(ns, ranges, 2, &on_done, &done), SubmitResult::ok);
  fabric::HostRequest* req = fake->pending.back();
  EXPECT_EQ(req->sqe.opcode, nvme_cmd_dsm);
  EXPECT_EQ(req->sqe.cdw10, 1u);
  EXPECT_EQ(req->iov[0].iov_len, 32u);
  EXPECT_EQ(req->direction, fabric::DataDirection::host_to_controller);
  // Write Zeroes carries no data and is bounded by NLB (not MDTS).
  ASSERT_EQ(queue->write_zeroes(ns, 0, 1000, &on_done, &done, true), SubmitResult::ok);
  req = fake->pending.back();
  EXPECT_EQ(req->iovcnt, 0u);
  EXPECT_EQ(req->direction, fabric::DataDirection::none);
  ASSERT_EQ(queue->flush(ns, &on_done, &done), SubmitResult::ok);
  EXPECT_EQ(fake->pending.back()->sqe.opcode, nvme_cmd_flush);
  drain();
  EXPECT_EQ(done.calls, 3);
}

TEST_F(IoQueueTest, SyncHelperSplitsAtMaxTransfer) {
  std::vector<std::uint8_t> buf(600 * 512);
  // Complete each command as soon as the sync helper drives the reactor.
  struct Responder {
    ScriptedQueue* fake;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> seen;
  } responder{fake, {}};
  std::function<void()> tick;
  tick = [&] {
    while (!responder.fake->pending.empty()) {
      auto* req = responder.fake->pending.front();
      responder.seen.emplace_back(req->sqe.slba(), (req->sqe.cdw12 & 0xffff) + 1);
      responder.fake->complete_front(nvme::Status());
    }
    reactor.add_timer(std::chrono::milliseconds(0), tick);
  };
  reactor.add_timer(std::chrono::milliseconds(0), tick);
  ASSERT_TRUE(queue->read_sync(ns, 100, 600, buf.data()).ok());
  ASSERT_EQ(responder.seen.size(), 3u);
  EXPECT_EQ(responder.seen[0], std::make_pair(std::uint64_t(100), 256u));
  EXPECT_EQ(responder.seen[1], std::make_pair(std::uint64_t(356), 256u));
  EXPECT_EQ(responder.seen[2], std::make_pair(std::uint64_t(612), 88u));
}

TEST_F(IoQueueTest, SyncTimeoutClosesQueueAndReportsAbort) {
  std::vector<std::uint8_t> buf(512);
  nvme::Status s = queue->read_sync(ns, 0, 1, buf.data());  // nobody answers: 200 ms I/O timeout
  EXPECT_EQ(s.sct(), NVME_SCT_PATH);
  EXPECT_EQ(s.sc(), NVME_SC_CMD_ABORTED_BY_HOST);
  EXPECT_FALSE(queue->alive());
  Done done;
  EXPECT_EQ(queue->read(ns, 0, 1, buf.data(), &on_done, &done), SubmitResult::disconnected);
}

TEST_F(IoQueueTest, DestructionCompletesOutstandingAndReleases) {
  std::vector<std::uint8_t> buf(512);
  Done done;
  ASSERT_EQ(queue->read(ns, 0, 1, buf.data(), &on_done, &done), SubmitResult::ok);
  queue.reset();
  EXPECT_EQ(done.calls, 1);
  EXPECT_EQ(done.status.sc(), NVME_SC_CMD_ABORTED_BY_HOST);
  EXPECT_TRUE(destroyed);
}

// Added with the I/O statistics: what the queue counts as commands complete, readable after the queue is gone.
TEST_F(IoQueueTest, StatisticsCountCompletionsBytesFailuresAndLatency) {
  std::vector<std::uint8_t> buf(8 * 512);
  Done done;
  ASSERT_EQ(queue->read(ns, 0, 8, buf.data(), &on_done, &done), SubmitResult::ok);
  ASSERT_EQ(queue->write(ns, 0, 2, buf.data(), &on_done, &done), SubmitResult::ok);
  ASSERT_EQ(queue->flush(ns, &on_done, &done), SubmitResult::ok);
  EXPECT_EQ(queue->stats()->snapshot().outstanding, 3u);
  EXPECT_EQ(queue->read(ns, 993, 8, buf.data(), &on_done, &done), SubmitResult::invalid_argument);  // not counted
  fake->complete_front(nvme::Status());
  fake->complete_front(nvme::Status::make(NVME_SCT_MEDIA, NVME_SC_WRITE_FAULT));
  fake->complete_front(nvme::Status());
  std::shared_ptr<const IoStats> stats = queue->stats();
  queue.reset();
  const IoStatsSnapshot s = stats->snapshot();
  EXPECT_EQ(s.read_commands, 1u);
  EXPECT_EQ(s.bytes_read, 8u * 512);
  EXPECT_EQ(s.write_commands, 0u);  // failed: an error, not a write
  EXPECT_EQ(s.bytes_written, 0u);
  EXPECT_EQ(s.other_commands, 1u);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.outstanding, 0u);
  EXPECT_EQ(s.latency_count(), 2u);
  EXPECT_LE(s.latency_quantile_ns(0.5), s.latency_quantile_ns(1.0));
  EXPECT_GE(s.latency_quantile_ns(1.0), s.latency_sum_ns / 2);  // the largest bound is at least the mean
}
