// Persist Through Power Loss: a namespace with a PTPL file keeps its registrants, reservation and generation
// across a restart (a new NamespaceReservations reading the same file) while PTPL is on, and nothing once a host
// cleared it; the file is 0600; a damaged file is refused with its name and field.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "nvme/libnvme.hpp"
#include "target/reservations.hpp"

namespace nvmf::target {
namespace {

HostId host(std::uint8_t n) {
  HostId h{};
  h.fill(n);
  return h;
}
const HostId A = host(1), B = host(2);
constexpr std::uint8_t kRegister = 0, kAcquire = 0, kRelease = 0;
constexpr std::uint8_t kKeep = 0, kClearPtpl = 2, kSetPtpl = 3;
constexpr std::uint8_t WERO = 3;

class PtplTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nvmf-ptpl-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/ns1.ptpl";
  }
  void TearDown() override {
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
  }
  /// A restart: a new namespace's reservations reading the same file.
  std::unique_ptr<NamespaceReservations> restarted() {
    auto r = std::make_unique<NamespaceReservations>();
    r->persist_to(path);
    return r;
  }
  std::string dir, path;
};

TEST_F(PtplTest, WithoutAFilePtplIsRefused) {
  NamespaceReservations r;
  EXPECT_FALSE(r.persistence_supported());
  EXPECT_EQ(r.register_key(A, kRegister, false, kSetPtpl, 0, 1).status.sc(), NVME_SC_INVALID_FIELD);
  EXPECT_EQ(r.set_ptpl(true).sc(), NVME_SC_INVALID_FIELD);
}

TEST_F(PtplTest, StateSurvivesARestartWhilePtplIsOn) {
  {
    NamespaceReservations r;
    r.persist_to(path);
    EXPECT_TRUE(r.persistence_supported());
    EXPECT_FALSE(r.ptpl());
    ASSERT_TRUE(r.register_key(A, kRegister, false, kSetPtpl, 0, 0xA1).status.ok());
    EXPECT_TRUE(r.ptpl());
    ASSERT_TRUE(r.register_key(B, kRegister, false, kKeep, 0, 0xB2).status.ok());
    ASSERT_TRUE(r.acquire(A, kAcquire, false, WERO, 0xA1, 0).status.ok());
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "the file holds every registrant's key";
  }
  auto r = restarted();
  EXPECT_TRUE(r->ptpl());
  EXPECT_EQ(r->key_of(A), 0xA1u);
  EXPECT_EQ(r->key_of(B), 0xB2u);
  EXPECT_EQ(r->type(), ReservationType::write_exclusive_registrants_only);
  EXPECT_TRUE(r->holds(A));
  EXPECT_EQ(r->generation(), 2u);
  // The report says so (PTPLS, byte 9 of the header).
  std::uint8_t report[64 + 2 * 64] = {};
  r->report_extended(report, sizeof report);
  EXPECT_EQ(reinterpret_cast<const nvme_resv_status*>(report)->ptpls, 1);
  // Later changes are kept too: the release survives the next restart.
  ASSERT_TRUE(r->release(A, kRelease, false, WERO, 0xA1).status.ok());
  auto again = restarted();
  EXPECT_EQ(again->type(), ReservationType::none);
  EXPECT_EQ(again->key_of(B), 0xB2u);
}

TEST_F(PtplTest, ClearingPtplLeavesNothingForTheNextStart) {
  {
    NamespaceReservations r;
    r.persist_to(path);
    ASSERT_TRUE(r.register_key(A, kRegister, false, kSetPtpl, 0, 7).status.ok());
    ASSERT_TRUE(r.register_key(B, kRegister, false, kClearPtpl, 0, 8).status.ok());
    EXPECT_FALSE(r.ptpl());
  }
  auto r = restarted();
  EXPECT_FALSE(r->ptpl());
  EXPECT_FALSE(r->key_of(A));
  EXPECT_FALSE(r->key_of(B));
}

TEST_F(PtplTest, SetFeaturesTurnsPtplOnAndOff) {
  {
    NamespaceReservations r;
    r.persist_to(path);
    ASSERT_TRUE(r.register_key(A, kRegister, false, kKeep, 0, 5).status.ok());
    ASSERT_TRUE(r.set_ptpl(true).ok());
  }
  EXPECT_EQ(restarted()->key_of(A), 5u);
  ASSERT_TRUE(restarted()->set_ptpl(false).ok());
  EXPECT_FALSE(restarted()->key_of(A));
}

TEST_F(PtplTest, ADamagedFileIsRefusedWithItsNameAndField) {
  std::ofstream(path) << R"({"version":1,"type":9,"holder":"00","generation":1,"registrants":[]})";
  NamespaceReservations r;
  try {
    r.persist_to(path);
    FAIL() << "a reservation type of 9 was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("/type"), std::string::npos) << e.what();
  }
  std::ofstream(path) << "not json";
  EXPECT_THROW(r.persist_to(path), std::runtime_error);
}

TEST_F(PtplTest, AFailedWriteIsAnInternalErrorNotASuccess) {
  NamespaceReservations r;
  r.persist_to(dir + "/missing-directory/ns1.ptpl");  // nothing to load; every save will fail
  const auto result = r.register_key(A, kRegister, false, kSetPtpl, 0, 1);
  EXPECT_EQ(result.status.sc(), NVME_SC_INTERNAL);
}

}  // namespace
}  // namespace nvmf::target
