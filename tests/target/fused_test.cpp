// Fused Compare and Write through the command seam: the pairing state machine and every status it gives
// (match, miscompare, missing first or second, differing ranges and NSIDs, reserved FUSE, failed halves, backend
// errors on each half, reservation conflicts), Identify FUSES, and the range lock: a pair waits for an
// overlapping write already at the backend on another controller's queue, and commands arriving while it holds
// its blocks wait for it while the others do not.
#include <cerrno>
#include <cstring>

#include "target/backend_status.hpp"
#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

constexpr std::uint32_t kBlock = 512;
constexpr std::uint8_t kFirst = 1, kSecond = 2;

std::vector<std::byte> block_of(std::uint8_t value, std::uint32_t blocks = 1) {
  return std::vector<std::byte>(std::size_t(blocks) * kBlock, std::byte{value});
}

nvme::Sqe fused(std::uint8_t opcode, std::uint8_t fuse, std::uint64_t slba, std::uint32_t nlb = 1,
                std::uint32_t nsid = 1) {
  nvme::Sqe s = io_sqe(opcode, nsid, slba, nlb);
  s.flags = static_cast<std::uint8_t>(s.flags | fuse);
  return s;
}

const nvme::Status kSuccess = nvme::Status::success();
const nvme::Status kCompareFailure = nvme::Status::media(NVME_SC_COMPARE_FAILED);
const nvme::Status kFailedFused = nvme::Status::generic(NVME_SC_FUSED_FAIL);
const nvme::Status kMissingFused = nvme::Status::generic(NVME_SC_FUSED_MISSING);
const nvme::Status kInvalidField = nvme::Status::generic(NVME_SC_INVALID_FIELD);

struct Host {
  std::unique_ptr<FakeQueue> admin, io;
};

class FusedTest : public TargetTest {
 protected:
  /// `ns_text`: the namespace as the command line gives it.
  void start(const std::string& ns_text = "ram:1M", int namespaces = 1) {
    target::SubsystemConfig s = ram_subsystem(kSubNqn, 1 << 20, kBlock, namespaces);
    s.namespaces[0] = target::parse_namespace(ns_text, kBlock);
    make_registry({s});
    a_ = attach(kHostNqn, 0xA0);
  }

  Host attach(const std::string& nqn, std::uint8_t id_base) {
    Host h;
    h.admin = new_queue();
    auto data = connect_data(nqn, kSubNqn);
    for (int i = 0; i < 16; ++i) data.hostid[i] = static_cast<std::uint8_t>(id_base + i);
    auto c = connect(*h.admin, 0, 31, data);
    EXPECT_TRUE(c.status().ok());
    EXPECT_TRUE(h.admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
    h.io = new_queue();
    data.cntlid = static_cast<std::uint16_t>(c.cqe.dw0);
    EXPECT_TRUE(connect(*h.io, 1, 127, data).status().ok());
    return h;
  }

  static void write(Host& h, std::uint64_t lba, const std::vector<std::byte>& data) {
    auto n = static_cast<std::uint32_t>(data.size() / kBlock);
    ASSERT_TRUE(h.io->run(io_sqe(nvme_cmd_write, 1, lba, n), static_cast<std::uint32_t>(data.size()), data.data())
                    .status()
                    .ok());
  }
  static std::vector<std::byte> read(Host& h, std::uint64_t lba, std::uint32_t n = 1) {
    auto c = h.io->run(io_sqe(nvme_cmd_read, 1, lba, n), n * kBlock);
    EXPECT_TRUE(c.status().ok()) << c.status().to_string();
    return c.data;
  }

  /// Submits `first` and `second` (each with one block of `first_data` / `second_data`) and returns their two
  /// statuses in submission order (completions matched by CID).
  std::pair<nvme::Status, nvme::Status> pair(Host& h, nvme::Sqe first, const std::vector<std::byte>& first_data,
                                             nvme::Sqe second, const std::vector<std::byte>& second_data,
                                             bool in_capsule = true) {
    first.cid = 0x100;
    second.cid = 0x101;
    h.io->submit(first, static_cast<std::uint32_t>(first_data.size()), first_data.data(), in_capsule);
    h.io->submit(second, static_cast<std::uint32_t>(second_data.size()), second_data.data(), in_capsule);
    for (int i = 0; i < 2000 && !(completed(h, 0x100) && completed(h, 0x101)); ++i)
      h.io->wait_for(h.io->completions().size() + 1, 1);
    EXPECT_TRUE(completed(h, 0x100) && completed(h, 0x101));
    return take(h, 0x100, 0x101);
  }

  static bool completed(Host& h, std::uint16_t cid) {
    for (const auto& c : h.io->completions())
      if (c.cqe.cid == cid) return true;
    return false;
  }

  static std::pair<nvme::Status, nvme::Status> take(Host& h, std::uint16_t cid1, std::uint16_t cid2) {
    std::pair<nvme::Status, nvme::Status> out{nvme::Status::generic(NVME_SC_INTERNAL),
                                              nvme::Status::generic(NVME_SC_INTERNAL)};
    auto& cs = h.io->completions();
    for (auto it = cs.begin(); it != cs.end();) {
      if (it->cqe.cid == cid1) out.first = it->status();
      else if (it->cqe.cid == cid2) out.second = it->status();
      else {
        ++it;
        continue;
      }
      it = cs.erase(it);
    }
    return out;
  }

  Host a_;
};

TEST_F(FusedTest, IdentifyReportsCompareAndWrite) {
  start();
  auto ctrl = as<nvme_id_ctrl>(a_.admin->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096));
  EXPECT_EQ(ctrl.fuses & NVME_CTRL_FUSES_COMPARE_AND_WRITE, NVME_CTRL_FUSES_COMPARE_AND_WRITE);
  EXPECT_TRUE(ctrl.oncs & NVME_CTRL_ONCS_COMPARE);
}

TEST_F(FusedTest, MatchWritesAndMiscompareLeavesTheBlocks) {
  start();
  write(a_, 10, block_of(0xA1, 2));
  auto [c1, w1] = pair(a_, fused(nvme_cmd_compare, kFirst, 10, 2), block_of(0xA1, 2), fused(nvme_cmd_write, kSecond, 10, 2),
                       block_of(0xB2, 2));
  EXPECT_EQ(c1, kSuccess) << c1.to_string();
  EXPECT_EQ(w1, kSuccess) << w1.to_string();
  EXPECT_EQ(read(a_, 10, 2), block_of(0xB2, 2));

  auto [c2, w2] = pair(a_, fused(nvme_cmd_compare, kFirst, 10, 2), block_of(0xA1, 2), fused(nvme_cmd_write, kSecond, 10, 2),
                       block_of(0xC3, 2));
  EXPECT_EQ(c2, kCompareFailure) << c2.to_string();
  EXPECT_EQ(w2, kFailedFused) << w2.to_string();
  EXPECT_EQ(read(a_, 10, 2), block_of(0xB2, 2));
}

TEST_F(FusedTest, DataFetchedFromTheHostForBothHalves) {
  start();
  write(a_, 3, block_of(0x11));
  auto [c, w] = pair(a_, fused(nvme_cmd_compare, kFirst, 3), block_of(0x11), fused(nvme_cmd_write, kSecond, 3),
                     block_of(0x22), /*in_capsule=*/false);
  EXPECT_EQ(c, kSuccess);
  EXPECT_EQ(w, kSuccess);
  EXPECT_EQ(read(a_, 3), block_of(0x22));
}

TEST_F(FusedTest, TransferErrorOnOneHalfFailsTheOther) {
  start();
  write(a_, 3, block_of(0x11));
  a_.io->set_auto_serve_fetches(false);
  nvme::Sqe first = fused(nvme_cmd_compare, kFirst, 3), second = fused(nvme_cmd_write, kSecond, 3);
  first.cid = 1;
  second.cid = 2;
  auto data = block_of(0x11), next = block_of(0x22);
  a_.io->submit(first, kBlock, data.data(), false);
  a_.io->submit(second, kBlock, next.data(), false);
  const nvme::Status transfer = nvme::Status::generic(NVME_SC_DATA_XFER_ERROR);
  a_.io->serve_fetches(transfer);
  ASSERT_TRUE(a_.io->wait_for(2));
  auto [c, w] = take(a_, 1, 2);
  EXPECT_EQ(c, transfer);
  EXPECT_EQ(w, kFailedFused);
  a_.io->set_auto_serve_fetches(true);
  EXPECT_EQ(read(a_, 3), block_of(0x11));
}

TEST_F(FusedTest, FirstWithoutSecondIsMissing) {
  start();
  write(a_, 5, block_of(0x55));
  nvme::Sqe first = fused(nvme_cmd_compare, kFirst, 5);
  first.cid = 7;
  auto data = block_of(0x55);
  a_.io->submit(first, kBlock, data.data());
  EXPECT_TRUE(a_.io->completions().empty());  // it waits for the next command
  // The next command is not a second fused command: the first is aborted, this one runs.
  nvme::Sqe next = io_sqe(nvme_cmd_read, 1, 5, 1);
  next.cid = 8;
  a_.io->submit(next, kBlock);
  ASSERT_TRUE(a_.io->wait_for(2));
  EXPECT_EQ(a_.io->completions()[1].cqe.cid, 8);
  EXPECT_EQ(a_.io->completions()[1].data, block_of(0x55));
  auto [c, r] = take(a_, 7, 8);
  EXPECT_EQ(c, kMissingFused) << c.to_string();
  EXPECT_EQ(r, kSuccess);
}

TEST_F(FusedTest, SecondWithoutFirstIsMissing) {
  start();
  write(a_, 5, block_of(0x55));
  auto data = block_of(0x66);
  EXPECT_EQ(a_.io->run(fused(nvme_cmd_write, kSecond, 5), kBlock, data.data()).status(), kMissingFused);
  EXPECT_EQ(read(a_, 5), block_of(0x55));
  // Two firsts in a row: the first is the orphan, the second first pairs with what follows.
  nvme::Sqe orphan = fused(nvme_cmd_compare, kFirst, 5);
  orphan.cid = 9;
  auto expected = block_of(0x55);
  a_.io->submit(orphan, kBlock, expected.data());
  auto [c, w] = pair(a_, fused(nvme_cmd_compare, kFirst, 5), expected, fused(nvme_cmd_write, kSecond, 5), data);
  EXPECT_EQ(take(a_, 9, 0xFFFF).first, kMissingFused);
  EXPECT_EQ(c, kSuccess);
  EXPECT_EQ(w, kSuccess);
  EXPECT_EQ(read(a_, 5), data);
}

TEST_F(FusedTest, QueueClosedUnderAWaitingFirst) {
  start();
  auto data = block_of(0);
  nvme::Sqe first = fused(nvme_cmd_compare, kFirst, 5);
  first.cid = 4;
  a_.io->submit(first, kBlock, data.data());
  a_.io->close();
  ASSERT_EQ(a_.io->completions().size(), 1u);
  EXPECT_EQ(a_.io->completions().front().status(), kMissingFused);
}

TEST_F(FusedTest, DifferentRangesOrNamespacesAreInvalidOnBoth) {
  start("ram:1M", 2);
  write(a_, 8, block_of(0x77, 2));
  auto expected = block_of(0x77), next = block_of(0x88);
  auto [c1, w1] = pair(a_, fused(nvme_cmd_compare, kFirst, 8), expected, fused(nvme_cmd_write, kSecond, 9), next);
  EXPECT_EQ(c1, kInvalidField);
  EXPECT_EQ(w1, kInvalidField);
  auto two = block_of(0x88, 2);
  auto [c2, w2] = pair(a_, fused(nvme_cmd_compare, kFirst, 8), expected, fused(nvme_cmd_write, kSecond, 8, 2), two);
  EXPECT_EQ(c2, kInvalidField);
  EXPECT_EQ(w2, kInvalidField);
  auto [c3, w3] = pair(a_, fused(nvme_cmd_compare, kFirst, 8), expected,
                       fused(nvme_cmd_write, kSecond, 8, 1, /*nsid=*/2), next);
  EXPECT_EQ(c3, kInvalidField);
  EXPECT_EQ(w3, kInvalidField);
  EXPECT_EQ(read(a_, 8, 2), block_of(0x77, 2));
}

TEST_F(FusedTest, ReservedFuseAndWrongOpcodes) {
  start();
  write(a_, 2, block_of(0x21));
  auto data = block_of(0x21), next = block_of(0x31);
  EXPECT_EQ(a_.io->run(fused(nvme_cmd_write, 3, 2), kBlock, data.data()).status(), kInvalidField);
  // A first that is not a Compare fails, and its second with it.
  auto [c1, w1] = pair(a_, fused(nvme_cmd_write, kFirst, 2), data, fused(nvme_cmd_write, kSecond, 2), next);
  EXPECT_EQ(c1, kInvalidField);
  EXPECT_EQ(w1, kFailedFused);
  // A second that is not a Write fails, and the first with it.
  auto [c2, w2] = pair(a_, fused(nvme_cmd_compare, kFirst, 2), data, fused(nvme_cmd_compare, kSecond, 2), next);
  EXPECT_EQ(c2, kFailedFused);
  EXPECT_EQ(w2, kInvalidField);
  EXPECT_EQ(read(a_, 2), block_of(0x21));
}

TEST_F(FusedTest, OutOfRangeFirstFailsTheSecond) {
  start();
  const std::uint64_t last = (1 << 20) / kBlock;
  auto data = block_of(0);
  auto [c, w] = pair(a_, fused(nvme_cmd_compare, kFirst, last), data, fused(nvme_cmd_write, kSecond, last), data);
  EXPECT_EQ(c, nvme::Status::generic(NVME_SC_LBA_RANGE));
  EXPECT_EQ(w, kFailedFused);
}

TEST_F(FusedTest, BackendErrorOnTheCompareRead) {
  start("fault:ram:1M?read_error=lba:40");
  auto data = block_of(0);
  auto [c, w] = pair(a_, fused(nvme_cmd_compare, kFirst, 40), data, fused(nvme_cmd_write, kSecond, 40), block_of(1));
  EXPECT_EQ(c, target::backend_status(-EIO, target::BackendOp::read)) << c.to_string();  // as a Compare alone
  EXPECT_EQ(w, kFailedFused);
}

TEST_F(FusedTest, BackendErrorOnTheWrite) {
  start("fault:ram:1M?write_error=lba:41");
  auto data = block_of(0);  // RAM starts zeroed: the compare matches
  auto [c, w] = pair(a_, fused(nvme_cmd_compare, kFirst, 41), data, fused(nvme_cmd_write, kSecond, 41), block_of(1));
  EXPECT_EQ(c, kFailedFused);
  EXPECT_EQ(w, target::backend_status(-EIO, target::BackendOp::write)) << w.to_string();  // as a Write alone
}

TEST_F(FusedTest, ReservationConflictOnTheWriteHalf) {
  start();
  Host b = attach(kOtherHostNqn, 0xB0);
  std::uint64_t keys[2] = {0, 0xAA};
  ASSERT_TRUE(a_.io->run(io_sqe(nvme_cmd_resv_register, 1, 0, 1) /*cdw12 unused*/, 16, keys).status().ok());
  keys[0] = 0xAA;
  nvme::Sqe acquire = io_sqe(nvme_cmd_resv_acquire, 1, 0, 1);
  acquire.cdw10 = 1u << 8;  // acquire, Write Exclusive
  acquire.cdw11 = 0;
  acquire.cdw12 = 0;
  ASSERT_TRUE(a_.io->run(acquire, 16, keys).status().ok());
  // Host B may read (compare) but not write under Write Exclusive.
  auto data = block_of(0);
  auto [c, w] = pair(b, fused(nvme_cmd_compare, kFirst, 6), data, fused(nvme_cmd_write, kSecond, 6), block_of(9));
  EXPECT_EQ(c, kFailedFused);
  EXPECT_EQ(w, nvme::Status::generic(NVME_SC_RESERVATION_CONFLICT));
  EXPECT_EQ(read(a_, 6), block_of(0));
}

// The lock waits for an overlapping write already at the backend on another controller's queue. LBA 100 is
// delayed 50 ms; host B's write covers 100-101 and so is slow, while the pair covers 101 only and is fast. Without
// the lock the pair would compare against the old block 101 and succeed, then B's write would land.
TEST_F(FusedTest, PairWaitsForAnOverlappingWriteInFlight) {
  start("fault:ram:1M?delay_us=50000@lba:100");
  Host b = attach(kOtherHostNqn, 0xB0);
  write(a_, 101, block_of(0x01));
  auto b_data = block_of(0x02, 2);
  nvme::Sqe bw = io_sqe(nvme_cmd_write, 1, 100, 2);
  bw.cid = 50;
  b.io->submit(bw, 2 * kBlock, b_data.data());
  auto [c, w] = pair(a_, fused(nvme_cmd_compare, kFirst, 101), block_of(0x01), fused(nvme_cmd_write, kSecond, 101),
                     block_of(0x03));
  ASSERT_TRUE(b.io->wait_for(1));
  EXPECT_TRUE(b.io->completions().front().status().ok());
  EXPECT_EQ(c, kCompareFailure) << "the pair compared before the overlapping write finished";
  EXPECT_EQ(w, kFailedFused);
  EXPECT_EQ(read(a_, 101), block_of(0x02));
  EXPECT_EQ(registry_->find(kSubNqn)->namespaces()->find(1)->range_lock->locks(), 0u);
}

// While a pair holds LBA 100 (its compare read is delayed 50 ms, its write as long), another controller's read of
// LBA 100 waits and sees the pair's data; its read of LBA 300 does not wait.
// A write that arrives while a pair locks its blocks is parked past on_command: it keeps a copy of its borrowed
// in-capsule data (which the fake transport then overwrites), and writes that copy once the pair is done.
TEST_F(FusedTest, AWriteParkedBehindAPairKeepsItsBorrowedData) {
  start();
  write(a_, 100, block_of(0x0A));
  a_.io->set_borrows_in_capsule_data(true);
  nvme::Sqe first = fused(nvme_cmd_compare, kFirst, 100), second = fused(nvme_cmd_write, kSecond, 100);
  nvme::Sqe overlapping = io_sqe(nvme_cmd_write, 1, 100, 1);
  first.cid = 1;
  second.cid = 2;
  overlapping.cid = 3;
  auto expected = block_of(0x0A), paired = block_of(0x0B), later = block_of(0x0C);
  a_.io->submit(first, kBlock, expected.data());
  a_.io->submit(second, kBlock, paired.data());
  a_.io->submit(overlapping, kBlock, later.data());
  EXPECT_EQ(a_.io->kept_count(), 3u) << "the pair's halves and the parked write each keep their data";
  ASSERT_TRUE(a_.io->wait_for(3));
  auto [c, w] = take(a_, 1, 2);
  EXPECT_EQ(c, kSuccess);
  EXPECT_EQ(w, kSuccess);
  ASSERT_EQ(a_.io->completions().size(), 1u);
  EXPECT_EQ(a_.io->completions().front().status(), kSuccess);
  a_.io->completions().clear();
  a_.io->set_borrows_in_capsule_data(false);
  EXPECT_EQ(read(a_, 100), later);
}

TEST_F(FusedTest, OverlappingCommandsWaitForTheHeldLockOthersDoNot) {
  start("fault:ram:1M?delay_us=50000@lba:100");
  Host b = attach(kOtherHostNqn, 0xB0);
  write(a_, 100, block_of(0x0A));
  write(a_, 300, block_of(0x3A));
  nvme::Sqe first = fused(nvme_cmd_compare, kFirst, 100), second = fused(nvme_cmd_write, kSecond, 100);
  first.cid = 1;
  second.cid = 2;
  auto expected = block_of(0x0A), next = block_of(0x0B);
  a_.io->submit(first, kBlock, expected.data());
  a_.io->submit(second, kBlock, next.data());
  drain(3);  // the lock is granted on the reactor's posted tasks; the compare read is at the backend now
  nvme::Sqe overlapping = io_sqe(nvme_cmd_read, 1, 100, 1), other = io_sqe(nvme_cmd_read, 1, 300, 1);
  overlapping.cid = 10;
  other.cid = 11;
  b.io->submit(overlapping, kBlock);
  b.io->submit(other, kBlock);
  ASSERT_TRUE(b.io->wait_for(1));
  EXPECT_EQ(b.io->completions().front().cqe.cid, 11) << "the read outside the locked range waited";
  EXPECT_TRUE(a_.io->completions().empty());
  ASSERT_TRUE(b.io->wait_for(2));
  ASSERT_TRUE(a_.io->wait_for(2));
  auto [c, w] = take(a_, 1, 2);
  EXPECT_EQ(c, kSuccess);
  EXPECT_EQ(w, kSuccess);
  EXPECT_EQ(b.io->completions().back().cqe.cid, 10);
  EXPECT_EQ(b.io->completions().back().data, next) << "the overlapping read ran inside the pair";
}

// Two overlapping pairs from two controllers: the second waits for the first's lock (and is retried when it
// goes), then compares against what the first wrote. Both comparing the same old block: exactly one succeeds.
TEST_F(FusedTest, OverlappingPairsRunOneAfterTheOther) {
  start("fault:ram:1M?delay_us=20000@lba:100");
  Host b = attach(kOtherHostNqn, 0xB0);
  write(a_, 100, block_of(0x0A));
  auto expected = block_of(0x0A), from_a = block_of(0xA0), from_b = block_of(0xB0);
  nvme::Sqe a1 = fused(nvme_cmd_compare, kFirst, 100), a2 = fused(nvme_cmd_write, kSecond, 100);
  nvme::Sqe b1 = fused(nvme_cmd_compare, kFirst, 100), b2 = fused(nvme_cmd_write, kSecond, 100);
  a1.cid = 1, a2.cid = 2, b1.cid = 3, b2.cid = 4;
  a_.io->submit(a1, kBlock, expected.data());
  a_.io->submit(a2, kBlock, from_a.data());
  b.io->submit(b1, kBlock, expected.data());
  b.io->submit(b2, kBlock, from_b.data());
  ASSERT_TRUE(a_.io->wait_for(2));
  ASSERT_TRUE(b.io->wait_for(2));
  auto [ac, aw] = take(a_, 1, 2);
  auto [bc, bw] = take(b, 3, 4);
  EXPECT_EQ(ac, kSuccess);
  EXPECT_EQ(aw, kSuccess);
  EXPECT_EQ(bc, kCompareFailure) << "both pairs compared the old block";
  EXPECT_EQ(bw, kFailedFused);
  EXPECT_EQ(read(a_, 100), from_a);
}

}  // namespace
}  // namespace nvmf::test
