// NamespaceReservations and ReservationLog on their own: every Register / Acquire / Release action, every
// reservation type's access rules, the statuses and the notifications (NVMe Base spec 2.0, 8.19).
#include <gtest/gtest.h>

#include <cstring>

#include "nvme/libnvme.hpp"
#include "target/reservation_log.hpp"
#include "target/reservations.hpp"

namespace nvmf::target {
namespace {

HostId host(std::uint8_t n) {
  HostId h{};
  h.fill(n);
  return h;
}
const HostId A = host(1), B = host(2), C = host(3);

constexpr std::uint8_t kRegister = 0, kUnregister = 1, kReplace = 2;
constexpr std::uint8_t kAcquire = 0, kPreempt = 1, kPreemptAbort = 2;
constexpr std::uint8_t kRelease = 0, kClear = 1;
constexpr std::uint8_t WE = 1, EA = 2, WERO = 3, EARO = 4, WEAR = 5, EAAR = 6;

std::uint8_t sc(const NamespaceReservations::Result& r) { return r.status.sc(); }
constexpr std::uint8_t kOk = 0, kConflict = NVME_SC_RESERVATION_CONFLICT, kInvalid = NVME_SC_INVALID_FIELD;

bool has(const std::vector<ReservationNotice>& notices, const HostId& h, ReservationEvent e) {
  for (const auto& n : notices)
    if (n.host == h && n.event == e) return true;
  return false;
}

class ReservationsTest : public ::testing::Test {
 protected:
  NamespaceReservations r;
  void reg(const HostId& h, std::uint64_t key) { ASSERT_EQ(sc(r.register_key(h, kRegister, false, 0, 0, key)), kOk); }
  void acquire(const HostId& h, std::uint64_t key, std::uint8_t type) {
    ASSERT_EQ(sc(r.acquire(h, kAcquire, false, type, key, 0)), kOk);
  }
  ReservationAccess access(const HostId& h) {
    std::uint64_t epoch = 0;
    return r.access(h, epoch);
  }
};

TEST_F(ReservationsTest, RegisterTwiceWithSameKeySucceedsWithAnotherKeyConflicts) {
  EXPECT_EQ(r.epoch(), 0u);
  reg(A, 0x11);
  EXPECT_EQ(r.key_of(A), 0x11u);
  EXPECT_EQ(r.generation(), 1u);
  EXPECT_NE(r.epoch(), 0u);
  EXPECT_EQ(sc(r.register_key(A, kRegister, false, 0, 0, 0x11)), kOk);
  auto other = r.register_key(A, kRegister, false, 0, 0, 0x12);
  EXPECT_EQ(sc(other), kConflict);
  EXPECT_TRUE(other.status.dnr());
  EXPECT_EQ(r.key_of(A), 0x11u);
  EXPECT_EQ(r.generation(), 2u);  // only successful registers count
}

TEST_F(ReservationsTest, RegisterRefusesReservedActionAndPersistThroughPowerLoss) {
  EXPECT_EQ(sc(r.register_key(A, 3, false, 0, 0, 1)), kInvalid);
  EXPECT_EQ(sc(r.register_key(A, kRegister, false, 1, 0, 1)), kInvalid);  // CPTPL 01b reserved
  EXPECT_EQ(sc(r.register_key(A, kRegister, false, 3, 0, 1)), kInvalid);  // PTPL not supported
  EXPECT_FALSE(r.key_of(A));
  EXPECT_EQ(sc(r.register_key(A, kRegister, false, 2, 0, 1)), kOk);      // "clear PTPL": already clear
}

TEST_F(ReservationsTest, UnregisterChecksTheKeyUnlessIekey) {
  EXPECT_EQ(sc(r.register_key(A, kUnregister, false, 0, 5, 0)), kConflict);  // not registered
  reg(A, 5);
  EXPECT_EQ(sc(r.register_key(A, kUnregister, false, 0, 6, 0)), kConflict);
  EXPECT_EQ(sc(r.register_key(A, kUnregister, true, 0, 6, 0)), kOk);
  EXPECT_FALSE(r.key_of(A));
}

TEST_F(ReservationsTest, ReplaceChecksTheKeyUnlessIekeyAndKeepsTheReservation) {
  EXPECT_EQ(sc(r.register_key(A, kReplace, true, 0, 0, 9)), kConflict);  // not registered
  reg(A, 5);
  acquire(A, 5, WE);
  EXPECT_EQ(sc(r.register_key(A, kReplace, false, 0, 4, 9)), kConflict);
  EXPECT_EQ(sc(r.register_key(A, kReplace, false, 0, 5, 9)), kOk);
  EXPECT_EQ(r.key_of(A), 9u);
  EXPECT_EQ(sc(r.register_key(A, kReplace, true, 0, 0, 10)), kOk);
  EXPECT_EQ(r.key_of(A), 10u);
  EXPECT_TRUE(r.holds(A));
  EXPECT_EQ(r.type(), ReservationType::write_exclusive);
}

TEST_F(ReservationsTest, HolderUnregisteringReleasesAndTellsOnlyForRegistrantsOnlyTypes) {
  reg(A, 1);
  reg(B, 2);
  acquire(A, 1, WE);
  auto res = r.register_key(A, kUnregister, false, 0, 1, 0);
  EXPECT_EQ(r.type(), ReservationType::none);
  EXPECT_TRUE(res.notices.empty());

  reg(A, 1);
  acquire(A, 1, WERO);
  res = r.register_key(A, kUnregister, false, 0, 1, 0);
  EXPECT_EQ(r.type(), ReservationType::none);
  ASSERT_EQ(res.notices.size(), 1u);
  EXPECT_TRUE(has(res.notices, B, ReservationEvent::reservation_released));
}

TEST_F(ReservationsTest, AllRegistrantsReservationEndsWithTheLastRegistrant) {
  reg(A, 1);
  reg(B, 2);
  acquire(A, 1, EAAR);
  EXPECT_TRUE(r.holds(B));  // every registrant holds it
  ASSERT_EQ(sc(r.register_key(A, kUnregister, false, 0, 1, 0)), kOk);
  EXPECT_EQ(r.type(), ReservationType::exclusive_access_all_registrants);
  EXPECT_TRUE(r.holds(B));
  ASSERT_EQ(sc(r.register_key(B, kUnregister, false, 0, 2, 0)), kOk);
  EXPECT_EQ(r.type(), ReservationType::none);
}

TEST_F(ReservationsTest, AcquireNeedsTheRegistrationAndAValidType) {
  EXPECT_EQ(sc(r.acquire(A, kAcquire, false, WE, 1, 0)), kConflict);  // not registered
  reg(A, 1);
  EXPECT_EQ(sc(r.acquire(A, kAcquire, false, WE, 2, 0)), kConflict);  // wrong key
  EXPECT_EQ(sc(r.acquire(A, kAcquire, true, WE, 1, 0)), kInvalid);    // IEKEY obsolete since 1.3
  EXPECT_EQ(sc(r.acquire(A, kAcquire, false, 0, 1, 0)), kInvalid);
  EXPECT_EQ(sc(r.acquire(A, kAcquire, false, 7, 1, 0)), kInvalid);
  EXPECT_EQ(sc(r.acquire(A, 3, false, WE, 1, 0)), kInvalid);
  EXPECT_EQ(r.type(), ReservationType::none);
}

TEST_F(ReservationsTest, AcquireByHolderOfSameTypeIsANoOpOtherwiseConflict) {
  reg(A, 1);
  reg(B, 2);
  const auto generation = r.generation();
  acquire(A, 1, EA);
  EXPECT_EQ(r.generation(), generation);  // Acquire does not count
  EXPECT_TRUE(r.holds(A));
  EXPECT_EQ(sc(r.acquire(A, kAcquire, false, EA, 1, 0)), kOk);
  EXPECT_EQ(sc(r.acquire(A, kAcquire, false, WE, 1, 0)), kConflict);
  EXPECT_EQ(sc(r.acquire(B, kAcquire, false, EA, 2, 0)), kConflict);
  EXPECT_FALSE(r.holds(B));
}

TEST_F(ReservationsTest, AcquireOfAllRegistrantsTypeByAnotherRegistrant) {
  reg(A, 1);
  reg(B, 2);
  acquire(A, 1, WEAR);
  EXPECT_EQ(sc(r.acquire(B, kAcquire, false, WEAR, 2, 0)), kOk);  // B holds it already
  EXPECT_EQ(sc(r.acquire(B, kAcquire, false, WE, 2, 0)), kConflict);
}

TEST_F(ReservationsTest, PreemptTheHolderTakesTheReservationAndUnregistersIt) {
  reg(A, 1);
  reg(B, 2);
  reg(C, 3);
  acquire(A, 1, WE);
  const auto generation = r.generation();
  auto res = r.acquire(B, kPreempt, false, EA, 2, 1);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_TRUE(r.holds(B));
  EXPECT_EQ(r.type(), ReservationType::exclusive_access);
  EXPECT_FALSE(r.key_of(A));
  EXPECT_EQ(r.generation(), generation + 1);
  EXPECT_TRUE(has(res.notices, A, ReservationEvent::registration_preempted));
  // The type changed: the remaining registrant (C) learns the reservation it knew was released.
  EXPECT_TRUE(has(res.notices, C, ReservationEvent::reservation_released));
  EXPECT_FALSE(has(res.notices, B, ReservationEvent::reservation_released));
}

TEST_F(ReservationsTest, PreemptAndAbortOfTheHolderWithTheSameType) {
  reg(A, 1);
  reg(B, 2);
  acquire(A, 1, WERO);
  auto res = r.acquire(B, kPreemptAbort, false, WERO, 2, 1);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_TRUE(r.holds(B));
  ASSERT_EQ(res.notices.size(), 1u);  // no release notice: the type stayed
  EXPECT_TRUE(has(res.notices, A, ReservationEvent::registration_preempted));
}

TEST_F(ReservationsTest, PreemptWithoutReservationUnregistersTheKey) {
  reg(A, 1);
  reg(B, 2);
  EXPECT_EQ(sc(r.acquire(A, kPreempt, false, WE, 1, 7)), kConflict);  // nobody has key 7
  auto res = r.acquire(A, kPreempt, false, WE, 1, 2);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_FALSE(r.key_of(B));
  EXPECT_EQ(r.type(), ReservationType::none);
  EXPECT_TRUE(has(res.notices, B, ReservationEvent::registration_preempted));
}

TEST_F(ReservationsTest, PreemptOfANonHolderKeyLeavesTheReservation) {
  reg(A, 1);
  reg(B, 2);
  reg(C, 3);
  acquire(A, 1, WE);
  auto res = r.acquire(B, kPreempt, false, EA, 2, 3);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_FALSE(r.key_of(C));
  EXPECT_TRUE(r.holds(A));
  EXPECT_EQ(r.type(), ReservationType::write_exclusive);
  EXPECT_EQ(sc(r.acquire(B, kPreempt, false, EA, 2, 0)), kInvalid);  // PRKEY 0 with a single holder
  EXPECT_EQ(sc(r.acquire(B, kPreempt, false, EA, 2, 9)), kConflict);
}

TEST_F(ReservationsTest, PreemptOfAllRegistrantsReservation) {
  reg(A, 1);
  reg(B, 2);
  reg(C, 3);
  acquire(A, 1, EAAR);
  // A non-zero PRKEY only unregisters that key.
  ASSERT_EQ(sc(r.acquire(B, kPreempt, false, WE, 2, 3)), kOk);
  EXPECT_FALSE(r.key_of(C));
  EXPECT_EQ(r.type(), ReservationType::exclusive_access_all_registrants);
  reg(C, 3);
  // PRKEY 0: the issuer alone remains and holds the new type.
  auto res = r.acquire(B, kPreempt, false, WE, 2, 0);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_EQ(r.type(), ReservationType::write_exclusive);
  EXPECT_TRUE(r.holds(B));
  EXPECT_FALSE(r.key_of(A));
  EXPECT_FALSE(r.key_of(C));
  EXPECT_TRUE(has(res.notices, A, ReservationEvent::registration_preempted));
  EXPECT_TRUE(has(res.notices, C, ReservationEvent::registration_preempted));
}

TEST_F(ReservationsTest, HolderPreemptingItselfChangesTheType) {
  reg(A, 1);
  reg(B, 2);
  acquire(A, 1, WE);
  auto res = r.acquire(A, kPreempt, false, EA, 1, 1);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_EQ(r.type(), ReservationType::exclusive_access);
  EXPECT_TRUE(r.holds(A));
  EXPECT_TRUE(has(res.notices, B, ReservationEvent::reservation_released));
}

TEST_F(ReservationsTest, ReleaseRules) {
  reg(A, 1);
  reg(B, 2);
  EXPECT_EQ(sc(r.release(C, kRelease, false, WE, 0)), kConflict);  // not a registrant
  EXPECT_EQ(sc(r.release(A, kRelease, false, WE, 9)), kConflict);  // wrong key
  EXPECT_EQ(sc(r.release(A, kRelease, true, WE, 1)), kInvalid);    // IEKEY
  EXPECT_EQ(sc(r.release(A, 2, false, WE, 1)), kInvalid);          // reserved action
  EXPECT_EQ(sc(r.release(A, kRelease, false, WE, 1)), kOk);        // nothing held: no-op
  acquire(A, 1, WE);
  EXPECT_EQ(sc(r.release(B, kRelease, false, WE, 2)), kOk);  // B holds nothing: no-op
  EXPECT_TRUE(r.holds(A));
  EXPECT_EQ(sc(r.release(A, kRelease, false, EA, 1)), kInvalid);  // not the type held
  auto res = r.release(A, kRelease, false, WE, 1);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_EQ(r.type(), ReservationType::none);
  EXPECT_TRUE(res.notices.empty());  // Write Exclusive: nobody else had access to lose
  EXPECT_EQ(r.key_of(A), 1u);        // the registration stays
}

TEST_F(ReservationsTest, ReleaseOfRegistrantTypesNotifiesTheOthers) {
  reg(A, 1);
  reg(B, 2);
  for (std::uint8_t type : {WERO, EARO, WEAR, EAAR}) {
    acquire(A, 1, type);
    auto res = r.release(A, kRelease, false, type, 1);
    ASSERT_EQ(sc(res), kOk) << int(type);
    ASSERT_EQ(res.notices.size(), 1u) << int(type);
    EXPECT_TRUE(has(res.notices, B, ReservationEvent::reservation_released));
  }
  acquire(A, 1, EAAR);
  EXPECT_EQ(sc(r.release(B, kRelease, false, EAAR, 2)), kOk);  // any registrant holds it, so may release it
  EXPECT_EQ(r.type(), ReservationType::none);
}

TEST_F(ReservationsTest, ClearUnregistersEveryoneAndTellsTheOthersTheyWerePreempted) {
  reg(A, 1);
  reg(B, 2);
  reg(C, 3);
  acquire(A, 1, EA);
  const auto generation = r.generation();
  EXPECT_EQ(sc(r.release(B, kClear, false, 0, 1)), kConflict);  // B's key is 2
  auto res = r.release(B, kClear, false, 0, 2);
  ASSERT_EQ(sc(res), kOk);
  EXPECT_EQ(r.type(), ReservationType::none);
  EXPECT_FALSE(r.key_of(A) || r.key_of(B) || r.key_of(C));
  EXPECT_EQ(r.generation(), generation + 1);
  EXPECT_EQ(res.notices.size(), 2u);
  EXPECT_TRUE(has(res.notices, A, ReservationEvent::reservation_preempted));
  EXPECT_TRUE(has(res.notices, C, ReservationEvent::reservation_preempted));
}

// NVMe Base spec, "Command Behavior in the Presence of a Reservation": holder, registrant, other host.
TEST_F(ReservationsTest, AccessOfEachTypeForHolderRegistrantAndOthers) {
  struct Row {
    std::uint8_t type;
    bool registrant_read, registrant_write, other_read, other_write;  // denied?
  };
  const Row rows[] = {
      {WE, false, true, false, true},    {EA, true, true, true, true},     {WERO, false, false, false, true},
      {EARO, false, false, true, true}, {WEAR, false, false, false, true}, {EAAR, false, false, true, true},
  };
  for (const Row& row : rows) {
    NamespaceReservations fresh;
    ASSERT_EQ(sc(fresh.register_key(A, kRegister, false, 0, 0, 1)), kOk);
    ASSERT_EQ(sc(fresh.register_key(B, kRegister, false, 0, 0, 2)), kOk);
    std::uint64_t epoch = 0;
    EXPECT_FALSE(fresh.access(C, epoch).write_denied);  // no reservation yet
    ASSERT_EQ(sc(fresh.acquire(A, kAcquire, false, row.type, 1, 0)), kOk);
    auto holder = fresh.access(A, epoch);
    EXPECT_EQ(epoch, fresh.epoch());
    EXPECT_FALSE(holder.read_denied || holder.write_denied) << int(row.type);
    auto registrant = fresh.access(B, epoch);
    EXPECT_EQ(registrant.read_denied, row.registrant_read) << int(row.type);
    EXPECT_EQ(registrant.write_denied, row.registrant_write) << int(row.type);
    auto other = fresh.access(C, epoch);
    EXPECT_EQ(other.read_denied, row.other_read) << int(row.type);
    EXPECT_EQ(other.write_denied, row.other_write) << int(row.type);
  }
}

TEST_F(ReservationsTest, ExtendedReportListsRegistrantsAndHolders) {
  reg(A, 0x1111);
  reg(B, 0x2222);
  acquire(B, 0x2222, WERO);
  std::vector<std::uint8_t> page(64 + 2 * 64 + 8, 0xCC);
  r.report_extended(page.data(), page.size());
  nvme_resv_status status;
  std::memcpy(&status, page.data(), 24);
  EXPECT_EQ(status.gen, r.generation());
  EXPECT_EQ(status.rtype, WERO);
  EXPECT_EQ(status.regctl[0] | status.regctl[1] << 8, 2);
  EXPECT_EQ(status.ptpls, 0);
  nvme_registered_ctrl_ext first, second;
  std::memcpy(&first, page.data() + 64, 64);
  std::memcpy(&second, page.data() + 128, 64);
  EXPECT_EQ(first.cntlid, 0xFFFF);
  EXPECT_EQ(first.rkey, 0x1111u);
  EXPECT_EQ(first.rcsts, 0);
  EXPECT_EQ(std::memcmp(first.hostid, A.data(), 16), 0);
  EXPECT_EQ(second.rkey, 0x2222u);
  EXPECT_EQ(second.rcsts, 1);
  for (std::size_t i = 192; i < page.size(); ++i) EXPECT_EQ(page[i], 0) << i;  // beyond the end: zeroes
  // A short buffer gets the start only; REGCTL still counts every registrant.
  std::vector<std::uint8_t> header(64);
  r.report_extended(header.data(), header.size());
  EXPECT_EQ(header[5], 2);
}

TEST(ReservationLogTest, PagesComeOutOldestFirstThenEmpty) {
  ReservationLog log;
  EXPECT_TRUE(log.add(ReservationEvent::registration_preempted, 1));
  EXPECT_TRUE(log.add(ReservationEvent::reservation_released, 2));
  nvme_resv_notification_log page;
  auto bytes = log.next_page();
  ASSERT_EQ(bytes.size(), 64u);
  std::memcpy(&page, bytes.data(), 64);
  EXPECT_EQ(page.lpc, 1u);
  EXPECT_EQ(page.rnlpt, NVME_RESV_NOTIFY_RNLPT_REGISTRATION_PREEMPTED);
  EXPECT_EQ(page.nalp, 1);
  EXPECT_EQ(page.nsid, 1u);
  std::memcpy(&page, log.next_page().data(), 64);
  EXPECT_EQ(page.lpc, 2u);
  EXPECT_EQ(page.rnlpt, NVME_RESV_NOTIFY_RNLPT_RESERVATION_RELEASED);
  EXPECT_EQ(page.nalp, 0);
  EXPECT_EQ(page.nsid, 2u);
  std::memcpy(&page, log.next_page().data(), 64);
  EXPECT_EQ(page.lpc, 0u);
  EXPECT_EQ(page.rnlpt, NVME_RESV_NOTIFY_RNLPT_EMPTY);
}

TEST(ReservationLogTest, MaskPerNamespaceAndForAll) {
  ReservationLog log;
  log.set_mask(1, 1u << 1);
  EXPECT_EQ(log.mask(1), 2u);
  EXPECT_EQ(log.mask(2), 0u);
  EXPECT_FALSE(log.add(ReservationEvent::registration_preempted, 1));
  EXPECT_TRUE(log.add(ReservationEvent::reservation_preempted, 1));
  log.set_mask(NVME_NSID_ALL, 1u << 3);
  EXPECT_EQ(log.mask(1), 8u);
  EXPECT_FALSE(log.add(ReservationEvent::reservation_preempted, 2));
  EXPECT_TRUE(log.add(ReservationEvent::registration_preempted, 1));
}

TEST(ReservationLogTest, LostPagesShowAsAGapInTheCount) {
  ReservationLog log;
  for (std::size_t i = 0; i < ReservationLog::kCapacity + 3; ++i) log.add(ReservationEvent::reservation_released, 1);
  nvme_resv_notification_log page;
  for (std::size_t i = 0; i < ReservationLog::kCapacity; ++i) std::memcpy(&page, log.next_page().data(), 64);
  EXPECT_EQ(page.lpc, ReservationLog::kCapacity);
  log.add(ReservationEvent::reservation_released, 1);
  std::memcpy(&page, log.next_page().data(), 64);
  EXPECT_EQ(page.lpc, ReservationLog::kCapacity + 4);  // three pages were lost
}

}  // namespace
}  // namespace nvmf::target
