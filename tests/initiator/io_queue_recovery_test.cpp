// IoQueue's connection-loss handling through the HostQueue seam: scripted queues stand in for the transport and
// an AssociationState for the controller, so parking, resending on the next association, the I/O timeout,
// fast-io-fail and ctrl-loss (failed) are checked deterministically, without a network.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <vector>

#include "fabric/reactor.hpp"
#include "initiator/association.hpp"
#include "initiator/io_queue.hpp"
#include "tests/initiator/scripted_host_queue.hpp"

using namespace nvmf;
using namespace nvmf::initiator;

namespace {
using test::Done;
using test::on_done;
using test::ScriptedQueue;

class IoQueueRecoveryTest : public ::testing::Test {
 protected:
  IoQueueRecoveryTest() {
    association = std::make_shared<AssociationState>(
        [this](fabric::Reactor& r, std::uint16_t, std::uint16_t depth, Error* error) -> std::unique_ptr<fabric::HostQueue> {
          ++connects;
          if (refuse_connect) {
            *error = Error{kHostPathError, "refused"};
            return nullptr;
          }
          auto q = std::make_unique<ScriptedQueue>(r, depth);
          fake = q.get();
          return q;
        },
        std::chrono::milliseconds(50));
    association->set_live(1);
    auto q = std::make_unique<ScriptedQueue>(reactor, 4);
    fake = q.get();
    queue = std::make_unique<IoQueue>(std::move(q), 1, std::chrono::milliseconds(200), nullptr);
    queue->attach_association(association, association->generation());
    ns.nsid = 1;
    ns.block_size = 512;
    ns.capacity_blocks = 1000;
    ns.max_transfer_blocks = 256;
  }
  ~IoQueueRecoveryTest() override {
    if (fake && fake->alive())
      while (!fake->pending.empty()) fake->complete_front(nvme::Status());
  }
  void poll(int turns = 3) {
    for (int i = 0; i < turns; ++i) queue->process_completions(std::chrono::milliseconds(1));
  }

  fabric::Reactor reactor{0};
  std::shared_ptr<AssociationState> association;
  ScriptedQueue* fake = nullptr;
  std::unique_ptr<IoQueue> queue;
  Namespace ns;
  int connects = 0;
  bool refuse_connect = false;
};
}  // namespace

TEST_F(IoQueueRecoveryTest, LossParksCommandsAndTheNextAssociationGetsThem) {
  std::vector<std::uint8_t> buf(512);
  Done a, b;
  ASSERT_EQ(queue->write(ns, 10, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  ASSERT_EQ(queue->read(ns, 20, 1, buf.data(), &on_done, &b), SubmitResult::ok);
  fake->fail("connection reset");
  EXPECT_EQ(a.calls + b.calls, 0) << "a command caught by the loss must wait for the reconnect";
  EXPECT_EQ(queue->outstanding(), 2u);
  poll();
  EXPECT_TRUE(queue->reconnecting());
  EXPECT_TRUE(queue->alive());
  EXPECT_TRUE(association->take_loss_report()) << "the controller must learn about the loss";
  EXPECT_EQ(connects, 0) << "no reconnect before the controller has a new association";

  // Submitted while reconnecting: accepted and held.
  Done c;
  ASSERT_EQ(queue->flush(ns, &on_done, &c), SubmitResult::ok);
  EXPECT_EQ(queue->outstanding(), 3u);

  association->set_live(2);
  poll();
  EXPECT_EQ(connects, 1);
  EXPECT_TRUE(queue->connected());
  EXPECT_EQ(queue->generation(), association->generation());
  ASSERT_EQ(fake->pending.size(), 3u) << "every parked command is resent on the new connection";
  EXPECT_EQ(fake->pending[0]->sqe.opcode, nvme_cmd_write);
  EXPECT_EQ(fake->pending[0]->sqe.slba(), 10u);
  EXPECT_EQ(fake->pending[1]->sqe.opcode, nvme_cmd_read);
  EXPECT_EQ(fake->pending[2]->sqe.opcode, nvme_cmd_flush);
  while (!fake->pending.empty()) fake->complete_front(nvme::Status());
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(b.calls, 1);
  EXPECT_EQ(c.calls, 1);
  EXPECT_TRUE(a.status.ok() && b.status.ok() && c.status.ok());
}

TEST_F(IoQueueRecoveryTest, ControllerStatusesAreNotRetried) {
  std::vector<std::uint8_t> buf(512);
  Done a;
  ASSERT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  fake->complete_front(nvme::Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR));  // the queue is still alive
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.status.sc(), NVME_SC_HOST_PATH_ERROR);
}

TEST_F(IoQueueRecoveryTest, ControllerGivenUpFailsParkedCommandsWithDnr) {
  std::vector<std::uint8_t> buf(512);
  Done a;
  ASSERT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  fake->fail("connection reset");
  poll();
  EXPECT_EQ(a.calls, 0);
  association->set_failed();  // ctrl-loss-tmo ran out
  poll();
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.status.sct(), NVME_SCT_PATH);
  EXPECT_TRUE(a.status.dnr());
  EXPECT_FALSE(queue->alive());
  Done b;
  EXPECT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &b), SubmitResult::disconnected);
}

TEST_F(IoQueueRecoveryTest, FastIoFailFailsQueuedIoButKeepsReconnecting) {
  std::vector<std::uint8_t> buf(512);
  Done a;
  ASSERT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  fake->fail("connection reset");
  poll();
  association->set_fast_fail();
  poll();
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.status.sc(), NVME_SC_HOST_PATH_ERROR);
  Done b;
  EXPECT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &b), SubmitResult::disconnected);
  association->set_live(2);  // clears fast-fail: the new association takes I/O again
  poll();
  EXPECT_TRUE(queue->connected());
  EXPECT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &b), SubmitResult::ok);
  fake->complete_front(nvme::Status());
  EXPECT_EQ(b.calls, 1);
}

TEST_F(IoQueueRecoveryTest, FailedReconnectRetriesAfterTheDelay) {
  std::vector<std::uint8_t> buf(512);
  Done a;
  ASSERT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  fake->fail("connection reset");
  refuse_connect = true;
  association->set_live(2);
  poll();
  EXPECT_EQ(connects, 1);
  EXPECT_TRUE(association->take_loss_report()) << "a new association that refuses the queue is reset too";
  poll();
  EXPECT_EQ(connects, 1) << "the next attempt waits for the reconnect delay";
  refuse_connect = false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < until && !queue->connected()) poll(1);
  EXPECT_TRUE(queue->connected());
  ASSERT_EQ(fake->pending.size(), 1u);
  fake->complete_front(nvme::Status());
  EXPECT_EQ(a.calls, 1);
  EXPECT_TRUE(a.status.ok());
}

TEST_F(IoQueueRecoveryTest, IoTimeoutClosesTheConnectionAndTheCommandIsRetried) {
  std::vector<std::uint8_t> buf(512);
  Done a;
  ASSERT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  ScriptedQueue* first = fake;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1000);
  while (std::chrono::steady_clock::now() < until && !queue->reconnecting()) poll(1);  // 200 ms I/O timeout
  EXPECT_TRUE(queue->reconnecting());
  EXPECT_FALSE(first->alive());
  EXPECT_EQ(a.calls, 0);
  association->set_live(2);
  poll();
  ASSERT_TRUE(queue->connected());
  ASSERT_EQ(fake->pending.size(), 1u);
  fake->complete_front(nvme::Status());
  EXPECT_EQ(a.calls, 1);
  EXPECT_TRUE(a.status.ok());
}

TEST_F(IoQueueRecoveryTest, DestructionWhileReconnectingCompletesParkedCommands) {
  std::vector<std::uint8_t> buf(512);
  Done a;
  ASSERT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  fake->fail("connection reset");
  poll();
  queue.reset();
  fake = nullptr;
  EXPECT_EQ(a.calls, 1);
  EXPECT_EQ(a.status.sc(), NVME_SC_CMD_ABORTED_BY_HOST);
}

TEST_F(IoQueueRecoveryTest, ControllerResetClosesAHealthyQueueAndItsCommandsMoveOver) {
  std::vector<std::uint8_t> buf(512);
  Done a;
  ASSERT_EQ(queue->read(ns, 1, 1, buf.data(), &on_done, &a), SubmitResult::ok);
  ScriptedQueue* old = fake;
  association->set_reconnecting();  // e.g. another queue's loss or a keep-alive failure
  poll();
  EXPECT_FALSE(old->alive()) << "a queue of the torn-down association must not stay in use";
  EXPECT_TRUE(queue->reconnecting());
  EXPECT_EQ(a.calls, 0);
  association->set_live(2);
  poll();
  ASSERT_TRUE(queue->connected());
  ASSERT_EQ(fake->pending.size(), 1u);
  fake->complete_front(nvme::Status());
  EXPECT_EQ(a.calls, 1);
  EXPECT_TRUE(a.status.ok());
}
