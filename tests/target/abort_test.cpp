// Abort (admin opcode 08h) of I/O commands through the QueueHandler seam: a write still waiting for its data is
// aborted (Command Abort Requested, DW0 bit 0 = 0), one whose transfer the transport cannot withdraw, one already
// completed and one on an unknown queue are not (DW0 bit 0 = 1), and ACL + 1 Aborts at most are outstanding.
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

const nvme::Status kAbortRequested = nvme::Status::generic(NVME_SC_ABORT_REQ);
const nvme::Status kAbortLimit = nvme::Status::command_specific(NVME_SC_ABORT_LIMIT);
constexpr std::uint32_t kBlock = 512;

nvme::Sqe abort_sqe(std::uint16_t sqid, std::uint16_t cid) {
  return admin_sqe(nvme_admin_abort_cmd, 0, sqid | std::uint32_t(cid) << 16);
}

nvme::Sqe write_sqe(std::uint16_t cid, std::uint64_t lba) {
  nvme::Sqe s = io_sqe(nvme_cmd_write, 1, lba, 8);
  s.cid = cid;
  return s;
}

class AbortTest : public TargetTest {
 protected:
  void SetUp() override {
    make_registry({ram_subsystem(kSubNqn, 1 << 20, kBlock, 1)});
    admin_ = new_queue();
    const std::uint16_t cntlid = connect_and_enable(*admin_);
    io_ = new_queue();
    ASSERT_TRUE(connect_io(*io_, cntlid, 1).status().ok());
    io_->set_auto_serve_fetches(false);  // writes wait for their data until the test serves it
  }
  void TearDown() override {
    // Every request must be back before the queues go (FakeQueue frees its buffers).
    io_->serve_fetches();
    drain();
  }

  /// A write of 8 blocks whose data is not in the capsule: it waits in fetch_data.
  void submit_waiting_write(std::uint16_t cid, std::uint64_t lba) {
    io_->submit(write_sqe(cid, lba), 8 * kBlock, data_.data(), /*in_capsule=*/false);
  }
  Completion run_abort(std::uint16_t sqid, std::uint16_t cid) {
    std::size_t before = admin_->completions().size();
    admin_->submit(abort_sqe(sqid, cid));
    EXPECT_TRUE(admin_->wait_for(before + 1));
    Completion c = admin_->completions().at(before);
    admin_->completions().erase(admin_->completions().begin() + static_cast<long>(before));
    return c;
  }
  bool lba_reads_zero(std::uint64_t lba) {
    io_->completions().clear();
    auto r = io_->run(io_sqe(nvme_cmd_read, 1, lba, 8), 8 * kBlock);
    EXPECT_TRUE(r.status().ok());
    return std::all_of(r.data.begin(), r.data.end(), [](std::byte b) { return b == std::byte{0}; });
  }

  std::vector<std::byte> data_ = std::vector<std::byte>(8 * kBlock, std::byte{0x5A});
  std::unique_ptr<FakeQueue> admin_, io_;
};

TEST_F(AbortTest, WriteWaitingForItsDataIsAborted) {
  submit_waiting_write(7, 0);
  ASSERT_EQ(io_->pending_fetches(), 1u);
  auto abort = run_abort(1, 7);
  ASSERT_TRUE(abort.status().ok());
  EXPECT_EQ(abort.cqe.dw0 & 1, 0u);  // aborted
  ASSERT_EQ(io_->completions().size(), 1u);
  EXPECT_EQ(io_->completions()[0].cqe.cid, 7);
  EXPECT_TRUE(io_->completions()[0].status().same_code(kAbortRequested));
  EXPECT_EQ(io_->pending_fetches(), 0u);  // the transfer was withdrawn
  EXPECT_EQ(io_->outstanding(), 0u);
  EXPECT_TRUE(lba_reads_zero(0));  // nothing was written
  // The error log names the aborted command.
  auto log = admin_->run(get_log_sqe(NVME_LOG_LID_ERROR, sizeof(nvme_error_log_page)), sizeof(nvme_error_log_page));
  auto entry = as<nvme_error_log_page>(log);
  EXPECT_EQ(entry.cmdid, 7);
  EXPECT_EQ(entry.sqid, 1);
}

TEST_F(AbortTest, TransferAlreadyUnderWayIsNotAborted) {
  io_->set_cancellable(false);  // as NVMe/TCP once the R2T went out
  submit_waiting_write(8, 16);
  auto abort = run_abort(1, 8);
  ASSERT_TRUE(abort.status().ok());
  EXPECT_EQ(abort.cqe.dw0 & 1, 1u);
  EXPECT_TRUE(io_->completions().empty());
  io_->serve_fetches();  // the data arrives: the write completes normally
  ASSERT_TRUE(io_->wait_for(1));
  EXPECT_TRUE(io_->completions()[0].status().ok());
  EXPECT_FALSE(lba_reads_zero(16));
}

TEST_F(AbortTest, CompletedOrUnknownCommandsAreNotAborted) {
  io_->set_auto_serve_fetches(true);
  ASSERT_TRUE(io_->run(write_sqe(9, 32), 8 * kBlock, data_.data(), false).status().ok());
  EXPECT_EQ(run_abort(1, 9).cqe.dw0 & 1, 1u);    // completed already
  EXPECT_EQ(run_abort(1, 300).cqe.dw0 & 1, 1u);  // never submitted
  EXPECT_EQ(run_abort(5, 9).cqe.dw0 & 1, 1u);    // no such queue
  EXPECT_EQ(run_abort(0, 77).cqe.dw0 & 1, 1u);   // admin queue: no AER with that CID
}

TEST_F(AbortTest, MoreThanAclPlusOneOutstandingAbortsAreRefused) {
  submit_waiting_write(1, 0);
  // The Aborts are answered only after a trip through the reactor: submitted back to back, they all wait.
  for (int i = 0; i <= target::Controller::kAbortLimit; ++i) admin_->submit(abort_sqe(1, 100));
  EXPECT_TRUE(admin_->completions().empty());
  admin_->submit(abort_sqe(1, 1));
  ASSERT_EQ(admin_->completions().size(), 1u);
  EXPECT_TRUE(admin_->completions()[0].status().same_code(kAbortLimit));
  admin_->completions().clear();
  ASSERT_TRUE(admin_->wait_for(target::Controller::kAbortLimit + 1u));
  for (const auto& c : admin_->completions()) EXPECT_EQ(c.cqe.dw0 & 1, 1u);
  // The limit counts only outstanding Aborts: the write can be aborted now.
  EXPECT_EQ(run_abort(1, 1).cqe.dw0 & 1, 0u);
}

TEST_F(AbortTest, AbortRacingAQueueTeardownStillCompletes) {
  submit_waiting_write(3, 0);
  admin_->submit(abort_sqe(1, 3));
  io_->serve_fetches();  // the write finishes before the Abort reaches its queue
  io_->close();
  ASSERT_TRUE(admin_->wait_for(1));
  EXPECT_EQ(admin_->completions()[0].cqe.dw0 & 1, 1u);
}

}  // namespace
}  // namespace nvmf::test
