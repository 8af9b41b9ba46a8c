// MultipathQueue over two scripted paths (a HostQueue that records submissions and completes them on demand), so
// path choice, failover on path statuses and lost connections, and the slot table are tested without a network.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <memory>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/multipath_queue.hpp"
#include "tests/initiator/scripted_host_queue.hpp"

using namespace nvmf;
using namespace nvmf::initiator;

namespace {
using test::Done;
using test::on_done;
using test::ScriptedQueue;

const nvme::Status kInaccessible = nvme::Status::make(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE);

class MultipathQueueTest : public ::testing::Test {
 protected:
  void make(PathPolicy policy, std::uint16_t depth = 4) {
    Namespace ns;
    ns.nsid = 1;
    ns.block_size = 512;
    ns.capacity_blocks = 1000;
    ns.max_transfer_blocks = 256;
    std::vector<MultipathQueue::PathQueue> paths;
    for (int i = 0; i < 2; ++i) {
      auto q = std::make_unique<ScriptedQueue>(reactor, depth);
      fakes[i] = q.get();
      ana[i].store(NVME_ANA_STATE_OPTIMIZED);
      MultipathQueue::PathQueue p;
      p.queue = std::make_unique<IoQueue>(std::move(q), 1, std::chrono::milliseconds(0), [] {});
      p.ana = &ana[i];
      p.namespaces = {ns};
      paths.push_back(std::move(p));
    }
    queue = std::make_unique<MultipathQueue>(std::move(paths), std::vector<std::uint32_t>{1}, depth, policy);
  }
  /// Complete what a test left outstanding while its callback arguments (locals of the test) are still alive.
  void drain() {
    for (auto* f : fakes) f->complete_all();
    EXPECT_EQ(queue->outstanding(), 0u);
  }
  SubmitResult read(Done& done) { return queue->read(1, 0, 8, buf.data(), &on_done, &done); }

  fabric::Reactor reactor{0};
  ScriptedQueue* fakes[2] = {};
  MultipathQueue::AnaBoard ana[2];
  std::unique_ptr<MultipathQueue> queue;
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(8 * 512);
};
}  // namespace

TEST_F(MultipathQueueTest, RoundRobinSpreadsCommandsOverBothPaths) {
  make(PathPolicy::round_robin);
  Done done[4];
  for (auto& d : done) ASSERT_EQ(read(d), SubmitResult::ok);
  EXPECT_EQ(fakes[0]->pending.size(), 2u);
  EXPECT_EQ(fakes[1]->pending.size(), 2u);
  EXPECT_EQ(queue->outstanding(), 4u);
  fakes[0]->complete_all();
  fakes[1]->complete_all();
  for (auto& d : done) EXPECT_EQ(d.calls, 1);
  EXPECT_EQ(queue->completed_on(0), 2u);
  EXPECT_EQ(queue->completed_on(1), 2u);
  EXPECT_EQ(queue->retries(), 0u);
  EXPECT_EQ(queue->outstanding(), 0u);
}

TEST_F(MultipathQueueTest, AnaStatusSendsTheCommandToTheOtherPathWithoutError) {
  make(PathPolicy::round_robin);
  Done done;
  ASSERT_EQ(read(done), SubmitResult::ok);
  ASSERT_EQ(fakes[0]->pending.size(), 1u);
  fakes[0]->complete_front(kInaccessible);
  EXPECT_EQ(done.calls, 0);  // not the caller's business yet
  ASSERT_EQ(fakes[1]->pending.size(), 1u);
  EXPECT_EQ(fakes[1]->pending.front()->sqe.opcode, nvme_cmd_read);
  fakes[1]->complete_front(nvme::Status());
  EXPECT_EQ(done.calls, 1);
  EXPECT_TRUE(done.status.ok());
  EXPECT_EQ(queue->retries(), 1u);
  // The status told the set what the path is now: nothing more goes there until the ANA log says otherwise.
  EXPECT_EQ(ana[0].load(), NVME_ANA_STATE_INACCESSIBLE);
  Done more[3];
  for (auto& d : more) ASSERT_EQ(read(d), SubmitResult::ok);
  EXPECT_EQ(fakes[0]->pending.size(), 0u);
  EXPECT_EQ(fakes[1]->pending.size(), 3u);
  // Back to optimized (the set read the log again): used again.
  fakes[1]->complete_all();
  ana[0].store(NVME_ANA_STATE_OPTIMIZED);
  Done again[2];
  for (auto& d : again) ASSERT_EQ(read(d), SubmitResult::ok);
  EXPECT_EQ(fakes[0]->pending.size(), 1u);
  drain();
}

TEST_F(MultipathQueueTest, NonOptimizedPathOnlyWhenNoOptimizedOne) {
  make(PathPolicy::round_robin);
  ana[0].store(NVME_ANA_STATE_NONOPTIMIZED);
  Done done[3];
  for (auto& d : done) ASSERT_EQ(read(d), SubmitResult::ok);
  EXPECT_EQ(fakes[1]->pending.size(), 3u);
  fakes[1]->complete_all();
  ana[1].store(NVME_ANA_STATE_CHANGE);
  Done later;
  ASSERT_EQ(read(later), SubmitResult::ok);
  EXPECT_EQ(fakes[0]->pending.size(), 1u);
  drain();
}

TEST_F(MultipathQueueTest, FinalStatusesReachTheCaller) {
  make(PathPolicy::round_robin);
  Done media, dnr;
  ASSERT_EQ(read(media), SubmitResult::ok);
  ASSERT_EQ(read(dnr), SubmitResult::ok);
  fakes[0]->complete_front(nvme::Status::make(NVME_SCT_MEDIA, NVME_SC_READ_ERROR));
  fakes[1]->complete_front(kInaccessible.with_dnr());  // the controller forbids a retry
  EXPECT_EQ(media.calls, 1);
  EXPECT_EQ(media.status.sct(), NVME_SCT_MEDIA);
  EXPECT_EQ(dnr.calls, 1);
  EXPECT_EQ(dnr.status.sc(), NVME_SC_ANA_INACCESSIBLE);
  EXPECT_EQ(queue->retries(), 0u);
}

TEST_F(MultipathQueueTest, BothPathsFailingGivesTheLastStatus) {
  make(PathPolicy::round_robin);
  Done done;
  ASSERT_EQ(read(done), SubmitResult::ok);
  fakes[0]->complete_front(kInaccessible);
  fakes[1]->complete_front(kInaccessible);
  EXPECT_EQ(done.calls, 1);
  EXPECT_EQ(done.status.sc(), NVME_SC_ANA_INACCESSIBLE);
  EXPECT_EQ(queue->retries(), 1u);  // sent again once; the second failure had nowhere to go
  // With no usable path (and none reconnecting), a new command is refused at once.
  Done refused;
  EXPECT_EQ(read(refused), SubmitResult::disconnected);
  EXPECT_EQ(queue->outstanding(), 0u);
}

TEST_F(MultipathQueueTest, LostConnectionMovesItsCommandsToTheOtherPath) {
  make(PathPolicy::round_robin);
  Done done[4];
  for (auto& d : done) ASSERT_EQ(read(d), SubmitResult::ok);
  fakes[0]->close();  // both of path 0's commands come back aborted by the host
  EXPECT_EQ(fakes[1]->pending.size(), 4u);
  EXPECT_EQ(queue->retries(), 2u);
  fakes[1]->complete_all();
  for (auto& d : done) {
    EXPECT_EQ(d.calls, 1);
    EXPECT_TRUE(d.status.ok());
  }
  EXPECT_EQ(queue->completed_on(0), 0u);
  EXPECT_EQ(queue->completed_on(1), 4u);
  EXPECT_TRUE(queue->alive());
}

TEST_F(MultipathQueueTest, LeastQueuedPrefersTheIdlerPath) {
  make(PathPolicy::least_queued);
  Done done[4];
  ASSERT_EQ(read(done[0]), SubmitResult::ok);  // 0/0: path 0
  ASSERT_EQ(read(done[1]), SubmitResult::ok);  // 1/0: path 1
  ASSERT_EQ(read(done[2]), SubmitResult::ok);  // 1/1: in turn, path 0
  EXPECT_EQ(fakes[0]->pending.size(), 2u);
  EXPECT_EQ(fakes[1]->pending.size(), 1u);
  fakes[0]->complete_all();
  ASSERT_EQ(read(done[3]), SubmitResult::ok);  // 0/1: path 0
  EXPECT_EQ(fakes[0]->pending.size(), 1u);
  EXPECT_EQ(fakes[1]->pending.size(), 1u);
  drain();
}

TEST_F(MultipathQueueTest, SlotTableBoundsOutstandingAndArgumentsAreChecked) {
  make(PathPolicy::round_robin, 3);
  Done done[4];
  for (int i = 0; i < 3; ++i) ASSERT_EQ(read(done[i]), SubmitResult::ok);
  EXPECT_EQ(read(done[3]), SubmitResult::queue_full);
  EXPECT_EQ(queue->read(2, 0, 8, buf.data(), &on_done, &done[3]), SubmitResult::invalid_argument);  // no NSID 2
  fakes[0]->complete_all();
  fakes[1]->complete_all();
  EXPECT_EQ(queue->read(1, 999, 8, buf.data(), &on_done, &done[3]), SubmitResult::invalid_argument);  // past the end
  EXPECT_EQ(queue->read(1, 0, 8, buf.data(), nullptr, nullptr), SubmitResult::invalid_argument);
  EXPECT_EQ(queue->outstanding(), 0u);
}

TEST_F(MultipathQueueTest, DestroyCompletesOutstandingCommandsAborted) {
  make(PathPolicy::round_robin);
  Done done[2];
  for (auto& d : done) ASSERT_EQ(read(d), SubmitResult::ok);
  queue.reset();
  for (auto& d : done) {
    EXPECT_EQ(d.calls, 1);
    EXPECT_EQ(d.status.sct(), NVME_SCT_PATH);
  }
}

TEST_F(MultipathQueueTest, FlushAndWriteZeroesGoThroughOnePathAndMoveOnAPathStatus) {
  make(PathPolicy::round_robin);
  Done flush, zeroes;
  ASSERT_EQ(queue->flush(1, &on_done, &flush), SubmitResult::ok);
  ASSERT_EQ(queue->write_zeroes(1, 16, 8, &on_done, &zeroes, true), SubmitResult::ok);
  ASSERT_EQ(fakes[0]->pending.size(), 1u);
  ASSERT_EQ(fakes[1]->pending.size(), 1u);
  EXPECT_EQ(fakes[0]->pending.front()->sqe.opcode, nvme_cmd_flush);
  const nvme::Sqe& wz = fakes[1]->pending.front()->sqe;
  EXPECT_EQ(wz.opcode, nvme_cmd_write_zeroes);
  EXPECT_EQ(wz.cdw10, 16u);                  // SLBA
  EXPECT_EQ(wz.cdw12 & 0xffff, 7u);          // NLB, 0-based
  EXPECT_NE(wz.cdw12 & (1u << 25), 0u);      // DEAC
  // The flush's path goes inaccessible: the flush is sent again on the other path, the caller sees success.
  fakes[0]->complete_front(kInaccessible);
  EXPECT_EQ(flush.calls, 0);
  ASSERT_EQ(fakes[1]->pending.size(), 2u);
  EXPECT_EQ(fakes[1]->pending.back()->sqe.opcode, nvme_cmd_flush);
  fakes[1]->complete_all();
  EXPECT_EQ(flush.calls, 1);
  EXPECT_TRUE(flush.status.ok());
  EXPECT_EQ(zeroes.calls, 1);
  EXPECT_EQ(queue->retries(), 1u);
  EXPECT_EQ(queue->outstanding(), 0u);
}
