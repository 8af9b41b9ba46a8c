// Reservations through the command seam: two hosts, each with an admin and an I/O queue on one namespace.
// Register / Acquire / Release / Report on the I/O queue, the conflict status on reads and writes, the
// Reservation Notification log (80h) with its event, the notification mask (82h), PTPL (83h), Identify.
#include <chrono>
#include <cstring>

#include "target_fixture.hpp"

namespace nvmf::test {
namespace {

constexpr std::uint8_t WE = 1, EA = 2;
constexpr std::uint32_t kBlock = 512;

struct Host {
  std::unique_ptr<FakeQueue> admin, io;
  std::uint16_t cntlid = 0;
};

class ReservationIoTest : public TargetTest {
 protected:
  void SetUp() override {
    target::SubsystemConfig s = ram_subsystem();
    // Writes to LBA 100 complete 50 ms late: a command a Preempt and Abort must wait for.
    s.namespaces[0] = target::parse_namespace("fault:ram:1M?delay_us=50000@lba:100", kBlock);
    make_registry({s});
    a_ = attach(kHostNqn, 0xA0);
    b_ = attach(kOtherHostNqn, 0xB0);
  }

  Host attach(const std::string& nqn, std::uint8_t id_base) {
    Host h;
    h.admin = new_queue();
    auto data = connect_data(nqn, kSubNqn);
    for (int i = 0; i < 16; ++i) data.hostid[i] = static_cast<std::uint8_t>(id_base + i);
    auto c = connect(*h.admin, 0, 31, data);
    EXPECT_TRUE(c.status().ok());
    h.cntlid = static_cast<std::uint16_t>(c.cqe.dw0);
    EXPECT_TRUE(h.admin->run(property_set(NVME_REG_CC, cc_enable())).status().ok());
    h.io = new_queue();
    data.cntlid = h.cntlid;
    EXPECT_TRUE(connect(*h.io, 1, 127, data).status().ok());
    return h;
  }

  static nvme::Status resv(Host& h, std::uint8_t opcode, std::uint32_t cdw10, std::uint64_t key1,
                           std::uint64_t key2 = 0) {
    std::uint64_t keys[2] = {key1, key2};
    nvme::Sqe s = admin_sqe(opcode, 1, cdw10);
    return h.io->run(s, opcode == nvme_cmd_resv_release ? 8 : 16, keys).status();
  }
  static nvme::Status do_register(Host& h, std::uint64_t key) { return resv(h, nvme_cmd_resv_register, 0, 0, key); }
  static nvme::Status acquire(Host& h, std::uint8_t action, std::uint8_t type, std::uint64_t crkey,
                              std::uint64_t prkey = 0) {
    return resv(h, nvme_cmd_resv_acquire, action | std::uint32_t(type) << 8, crkey, prkey);
  }
  static nvme::Status release(Host& h, std::uint8_t action, std::uint8_t type, std::uint64_t crkey) {
    return resv(h, nvme_cmd_resv_release, action | std::uint32_t(type) << 8, crkey);
  }
  static nvme::Status write(Host& h) {
    std::vector<std::byte> data(kBlock, std::byte{0x5A});
    return h.io->run(io_sqe(nvme_cmd_write, 1, 0, 1), kBlock, data.data()).status();
  }
  static nvme::Status read(Host& h) { return h.io->run(io_sqe(nvme_cmd_read, 1, 0, 1), kBlock).status(); }
  static nvme_resv_notification_log notification(Host& h) {
    auto c = h.admin->run(get_log_sqe(NVME_LOG_LID_RESERVATION, 64, 0, 0), 64);
    EXPECT_TRUE(c.status().ok());
    return as<nvme_resv_notification_log>(c);
  }

  Host a_, b_;
};

TEST_F(ReservationIoTest, IdentifyReportsReservationsAndNoPersistence) {
  auto ctrl = as<nvme_id_ctrl>(a_.admin->run(identify_sqe(NVME_IDENTIFY_CNS_CTRL), 4096));
  EXPECT_TRUE(ctrl.oncs & NVME_CTRL_ONCS_RESERVATIONS);
  auto ns = as<nvme_id_ns>(a_.admin->run(identify_sqe(NVME_IDENTIFY_CNS_NS, 1), 4096));
  EXPECT_EQ(ns.rescap, 0xFE);  // six types and IEKEY per 1.3; PTPL (bit 0) clear
  auto get = a_.admin->run(admin_sqe(nvme_admin_get_features, 1, NVME_FEAT_FID_RESV_PERSIST));
  EXPECT_TRUE(get.status().ok());
  EXPECT_EQ(get.cqe.dw0, 0u);
  EXPECT_EQ(a_.admin->run(admin_sqe(nvme_admin_set_features, 1, NVME_FEAT_FID_RESV_PERSIST, 1)).status().sc(),
            NVME_SC_INVALID_FIELD);
  EXPECT_EQ(a_.admin->run(admin_sqe(nvme_admin_get_features, 7, NVME_FEAT_FID_RESV_MASK)).status().sc(),
            NVME_SC_INVALID_NS);
}

TEST_F(ReservationIoTest, WriteExclusiveBlocksTheOtherHostsWritesUntilReleased) {
  ASSERT_TRUE(do_register(a_, 0xAAAA).ok());
  ASSERT_TRUE(acquire(a_, 0, WE, 0xAAAA).ok());
  auto st = write(b_);
  EXPECT_EQ(st.sct(), NVME_SCT_GENERIC);
  EXPECT_EQ(st.sc(), NVME_SC_RESERVATION_CONFLICT);
  EXPECT_TRUE(read(b_).ok());  // Write Exclusive leaves reads to everyone
  EXPECT_EQ(b_.io->run(io_sqe(nvme_cmd_flush, 1, 0, 1)).status().sc(), NVME_SC_RESERVATION_CONFLICT);
  EXPECT_TRUE(write(a_).ok());
  ASSERT_TRUE(release(a_, 0, WE, 0xAAAA).ok());
  EXPECT_TRUE(write(b_).ok());
}

TEST_F(ReservationIoTest, ExclusiveAccessBlocksReadsAndRegistrationsAreShownInTheReport) {
  ASSERT_TRUE(do_register(a_, 0xA).ok());
  ASSERT_TRUE(do_register(b_, 0xB).ok());
  ASSERT_TRUE(acquire(a_, 0, EA, 0xA).ok());
  EXPECT_EQ(read(b_).sc(), NVME_SC_RESERVATION_CONFLICT);
  // Reservation Report: the regular structure cannot carry a 128-bit host identifier.
  constexpr std::uint32_t kReport = 64 + 2 * 64;
  EXPECT_EQ(b_.io->run(admin_sqe(nvme_cmd_resv_report, 1, kReport / 4 - 1, 0), kReport).status().sc(),
            NVME_SC_HOSTID_FORMAT);
  auto report = b_.io->run(admin_sqe(nvme_cmd_resv_report, 1, kReport / 4 - 1, 1), kReport);
  ASSERT_TRUE(report.status().ok());
  ASSERT_EQ(report.data.size(), kReport);
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(report.data.data());
  EXPECT_EQ(bytes[4], EA);
  EXPECT_EQ(bytes[5], 2);
  nvme_registered_ctrl_ext first;
  std::memcpy(&first, bytes + 64, sizeof first);
  EXPECT_EQ(first.rkey, 0xAu);
  EXPECT_EQ(first.rcsts, 1);
  EXPECT_EQ(first.hostid[0], 0xA0);
}

TEST_F(ReservationIoTest, PreemptAndAbortNotifiesThePreemptedHostWithALogPageAndAnEvent) {
  ASSERT_TRUE(do_register(a_, 0xA).ok());
  ASSERT_TRUE(do_register(b_, 0xB).ok());
  ASSERT_TRUE(acquire(a_, 0, WE, 0xA).ok());
  a_.admin->submit(admin_sqe(nvme_admin_async_event));
  const std::size_t before = a_.admin->completions().size();
  ASSERT_TRUE(acquire(b_, 2, EA, 0xB, 0xA).ok());  // preempt and abort A
  drain();
  ASSERT_EQ(a_.admin->completions().size(), before + 1);
  const std::uint32_t dw0 = a_.admin->completions().back().cqe.dw0;
  EXPECT_EQ(dw0 & 0x7, NVME_AER_CSS);
  EXPECT_EQ((dw0 >> 8) & 0xFF, NVME_AER_CSS_NVM_RESERVATION);
  EXPECT_EQ((dw0 >> 16) & 0xFF, NVME_LOG_LID_RESERVATION);
  auto page = notification(a_);
  EXPECT_EQ(page.rnlpt, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED);
  EXPECT_EQ(page.nsid, 1u);
  EXPECT_EQ(page.lpc, 1u);
  EXPECT_EQ(notification(a_).rnlpt, NVME_RESV_NOTIFY_RNLPT_EMPTY);
  EXPECT_EQ(notification(b_).rnlpt, NVME_RESV_NOTIFY_RNLPT_EMPTY);  // the issuer is not told
  // A lost its registration: under Exclusive Access it may neither read nor write.
  EXPECT_EQ(read(a_).sc(), NVME_SC_RESERVATION_CONFLICT);
  EXPECT_EQ(write(a_).sc(), NVME_SC_RESERVATION_CONFLICT);
  EXPECT_TRUE(write(b_).ok());
}

TEST_F(ReservationIoTest, PreemptAndAbortCompletesAfterThePreemptedHostsCommands) {
  ASSERT_TRUE(do_register(a_, 0xA).ok());
  ASSERT_TRUE(do_register(b_, 0xB).ok());
  ASSERT_TRUE(acquire(a_, 0, WE, 0xA).ok());
  constexpr std::uint16_t kDelayedCid = 77;
  auto a_write_done = [&] {
    for (const auto& c : a_.io->completions())
      if (c.cqe.cid == kDelayedCid) return c.status().ok();
    return false;
  };
  std::vector<std::byte> data(kBlock, std::byte{1});
  nvme::Sqe delayed = io_sqe(nvme_cmd_write, 1, 100, 1);
  delayed.cid = kDelayedCid;
  a_.io->submit(delayed, kBlock, data.data());  // held 50 ms by the backend
  std::uint64_t keys[2] = {0xB, 0xA};
  const std::size_t b_before = b_.io->completions().size();
  b_.io->submit(admin_sqe(nvme_cmd_resv_acquire, 1, 2 | std::uint32_t(WE) << 8), 16, keys);
  for (int i = 0; i < 5; ++i) reactor_.run_once(std::chrono::milliseconds(1));
  ASSERT_FALSE(a_write_done()) << "the delayed write was not in flight";
  EXPECT_EQ(b_.io->completions().size(), b_before) << "Preempt and Abort completed before A's write";
  // The preemption itself is done at once: A's next command conflicts.
  EXPECT_EQ(write(a_).sc(), NVME_SC_RESERVATION_CONFLICT);
  for (int i = 0; i < 2000 && b_.io->completions().size() == b_before; ++i) {
    const bool a_done_before_turn = a_write_done();
    reactor_.run_once(std::chrono::milliseconds(1));
    if (b_.io->completions().size() > b_before) {
      EXPECT_TRUE(a_done_before_turn || a_write_done());
    }
  }
  ASSERT_EQ(b_.io->completions().size(), b_before + 1);
  EXPECT_TRUE(b_.io->completions().back().status().ok());
  EXPECT_TRUE(a_write_done());  // admitted before the preemption, it completed normally
}

TEST_F(ReservationIoTest, PreemptAndAbortWithNothingInFlightCompletesAtOnce) {
  ASSERT_TRUE(do_register(a_, 0xA).ok());
  ASSERT_TRUE(do_register(b_, 0xB).ok());
  ASSERT_TRUE(acquire(a_, 0, WE, 0xA).ok());
  ASSERT_TRUE(acquire(b_, 2, WE, 0xB, 0xA).ok());
}

TEST_F(ReservationIoTest, MaskedEventsMakeNoPage) {
  ASSERT_TRUE(a_.admin->run(admin_sqe(nvme_admin_set_features, 1, NVME_FEAT_FID_RESV_MASK, 1u << 3)).status().ok());
  auto get = a_.admin->run(admin_sqe(nvme_admin_get_features, 1, NVME_FEAT_FID_RESV_MASK));
  EXPECT_EQ(get.cqe.dw0, 1u << 3);
  EXPECT_EQ(a_.admin->run(admin_sqe(nvme_admin_set_features, 1, NVME_FEAT_FID_RESV_MASK, 1u)).status().sc(),
            NVME_SC_INVALID_FIELD);
  ASSERT_TRUE(do_register(a_, 0xA).ok());
  ASSERT_TRUE(do_register(b_, 0xB).ok());
  ASSERT_TRUE(release(b_, 1, 0, 0xB).ok());  // clear: A's registration is preempted, and masked
  drain();
  EXPECT_EQ(notification(a_).rnlpt, NVME_RESV_NOTIFY_RNLPT_EMPTY);
}

TEST_F(ReservationIoTest, CommandsCheckTheirData) {
  // Register without its 16 bytes of keys.
  EXPECT_EQ(a_.io->run(admin_sqe(nvme_cmd_resv_register, 1, 0)).status().sc(), NVME_SC_SGL_INVALID_DATA);
  std::uint64_t keys[2] = {0, 1};
  EXPECT_EQ(a_.io->run(admin_sqe(nvme_cmd_resv_register, 2, 0), 16, keys).status().sc(), NVME_SC_INVALID_NS);
  // Data fetched after the command (not in-capsule) arrives before the command runs.
  EXPECT_TRUE(a_.io->run(admin_sqe(nvme_cmd_resv_register, 1, 0), 16, keys, false).status().ok());
  EXPECT_EQ(resv(a_, nvme_cmd_resv_register, 0, 0, 2).sc(), NVME_SC_RESERVATION_CONFLICT);
}

}  // namespace
}  // namespace nvmf::test
