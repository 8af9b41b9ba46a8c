// The host library's multipath set against our target in this process, one subsystem through two listeners
// (ports 1 and 2): paths chosen by ANA state then round-robin, an ANA change notice followed, I/O that a path
// fails with an ANA status sent again on the other with no error to the caller, a returning path used again,
// and paths to different subsystems refused.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "initiator/multipath.hpp"
#include "target/target.hpp"
#include "tests/functional/target_fixture.hpp"

using namespace nvmf;
using namespace nvmf::initiator;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:multipath";
constexpr const char* kOtherNqn = "nqn.2024-01.io.nvmf.test:multipath-other";
constexpr const char* kSlowNqn = "nqn.2024-01.io.nvmf.test:multipath-slow";

class MultipathFunctional : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.namespaces = {test::NamespaceSpec{16ull << 20, 512}};
    test::SubsystemSpec other;
    other.nqn = kOtherNqn;
    test::SubsystemSpec slow;
    slow.nqn = kSlowNqn;
    slow.namespaces = {test::NamespaceSpec{16ull << 20, 512, "delay_us=400000@lba:5000"}};
    spec.subsystems = {s, other, slow};
    spec.listeners = 2;
    std::string error;
    ASSERT_TRUE(target_.start(spec, &error)) << error;
    Error e;
    std::vector<ControllerOptions> paths = {target_.options(kNqn, 0), target_.options(kNqn, 1)};
    for (auto& p : paths) p.reconnect_delay = std::chrono::milliseconds(200);
    set_ = MultipathSet::connect(paths, &e);
    ASSERT_TRUE(set_) << e.to_string();
  }
  void TearDown() override { set_.reset(); }

  /// Polls the set until `pred` holds (the ANA change notice arrives asynchronously).
  template <typename Pred>
  bool eventually(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end) {
      set_->poll();
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  fabric::ListenAddress address(std::size_t listener) {
    const auto& e = target_.endpoints()[listener];
    return target::parse_listen_address("tcp:" + e.traddr + ":" + e.trsvcid);
  }

  std::vector<std::uint8_t> pattern(std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::uint8_t> v(4096);
    for (auto& b : v) b = static_cast<std::uint8_t>(rng());
    return v;
  }

  test::EmbeddedTarget target_;
  std::unique_ptr<MultipathSet> set_;
};

TEST_F(MultipathFunctional, RoundRobinOverOptimizedPathsThenAnaDecides) {
  ASSERT_EQ(set_->path_count(), 2u);
  EXPECT_NE(set_->controller(0).cntlid(), set_->controller(1).cntlid());
  EXPECT_TRUE(set_->controller(0).id().cmic & NVME_CTRL_CMIC_MULTI_ANA_REPORTING);
  auto data = pattern(1);
  std::vector<std::size_t> used;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(set_->write_sync(1, i * 8, 8, data.data()).ok());
    used.push_back(set_->last_path());
  }
  EXPECT_EQ(used, (std::vector<std::size_t>{0, 1, 0, 1}));  // both optimized: round-robin

  // Port 1 non-optimized: the host learns it from the notice and prefers path 2.
  target_.target().set_ana_state(1, 1, target::AnaState::non_optimized);
  ASSERT_TRUE(eventually([&] { return set_->ana_state(0, 1) == NVME_ANA_STATE_NONOPTIMIZED; }));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(set_->read_sync(1, 0, 8, data.data()).ok());
    EXPECT_EQ(set_->last_path(), 1u);
  }
  // Port 2 inaccessible too: the non-optimized path is the only one left.
  target_.target().set_ana_state(2, 1, target::AnaState::inaccessible);
  ASSERT_TRUE(eventually([&] { return set_->ana_state(1, 1) == NVME_ANA_STATE_INACCESSIBLE; }));
  ASSERT_TRUE(set_->read_sync(1, 0, 8, data.data()).ok());
  EXPECT_EQ(set_->last_path(), 0u);
  EXPECT_EQ(set_->retries(), 0u);  // the notices arrived before the I/O: no command failed
}

TEST_F(MultipathFunctional, AnaStatusIsRetriedOnTheOtherPathAndThePathComesBack) {
  auto data = pattern(2);
  ASSERT_TRUE(set_->write_sync(1, 100, 8, data.data()).ok());
  // Path 1 gets no ANA change notices (Set Features 0Bh without bit 11): it learns from the I/O statuses only.
  nvme::Sqe aec{};
  aec.opcode = nvme_admin_set_features;
  aec.cdw10 = NVME_FEAT_FID_ASYNC_EVENT;
  aec.cdw11 = NVME_CTRL_OAES_NA;
  ASSERT_TRUE(set_->controller(0).admin_command(aec, nullptr, 0, fabric::DataDirection::none).ok());
  // Change the states without letting the host see the notices first (no poll in between): the next command
  // on path 1 meets the ANA status and goes to path 2; the caller sees success and the data.
  for (auto state : {target::AnaState::inaccessible, target::AnaState::persistent_loss, target::AnaState::change}) {
    SCOPED_TRACE(target::ana_state_name(state));
    target_.target().set_ana_state(1, 1, state);
    const auto before = set_->retries();
    for (int i = 0; i < 2; ++i) {  // one of two round-robin turns lands on path 1
      std::vector<std::uint8_t> back(4096);
      ASSERT_TRUE(set_->read_sync(1, 100, 8, back.data()).ok());
      EXPECT_EQ(back, data);
      EXPECT_EQ(set_->last_path(), 1u);
    }
    EXPECT_EQ(set_->retries(), before + 1);  // path 1 failed one command, then was known to be unusable
    target_.target().set_ana_state(1, 1, target::AnaState::optimized);
    ASSERT_TRUE(eventually([&] { return set_->ana_state(0, 1) == NVME_ANA_STATE_OPTIMIZED; }));
  }
  EXPECT_GE(set_->retries(), 1u);
  // Back to optimized: path 1 carries I/O again.
  bool path1 = false;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(set_->read_sync(1, 100, 8, data.data()).ok());
    path1 |= set_->last_path() == 0;
  }
  EXPECT_TRUE(path1);
}

TEST_F(MultipathFunctional, NoUsablePathFailsWithThePathStatus) {
  target_.target().set_ana_state(1, 1, target::AnaState::inaccessible);
  target_.target().set_ana_state(2, 1, target::AnaState::persistent_loss);
  std::vector<std::uint8_t> back(4096);
  nvme::Status st = set_->read_sync(1, 0, 8, back.data());
  EXPECT_EQ(st.sct(), NVME_SCT_PATH) << st.to_string();
  EXPECT_TRUE(set_->read_sync(7, 0, 8, back.data()).same_code(nvme::Status::generic(NVME_SC_INVALID_NS)));
}

TEST_F(MultipathFunctional, WithEveryPathDownIoWaitsForOneToComeBack) {
  auto data = pattern(3);
  ASSERT_TRUE(set_->write_sync(1, 200, 8, data.data()).ok());
  const auto a = address(0);
  const auto b = address(1);
  target_.target().remove_listener(a);
  target_.target().remove_listener(b);
  // Path 2's port comes back while the read waits.
  std::thread back([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    target_.target().add_listener(b);
  });
  std::vector<std::uint8_t> out(4096);
  nvme::Status st = set_->read_sync(1, 200, 8, out.data());
  back.join();
  ASSERT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(out, data);
  EXPECT_EQ(set_->last_path(), 1u);
}

TEST_F(MultipathFunctional, CommandCaughtByALostConnectionMovesToAnotherPath) {
  // Path 2 non-optimized: the read goes to path 1, whose connection goes away while the backend delays it.
  target_.target().set_ana_state(2, 1, target::AnaState::non_optimized);
  std::vector<ControllerOptions> paths = {target_.options(kSlowNqn, 0), target_.options(kSlowNqn, 1)};
  for (auto& p : paths) p.reconnect_delay = std::chrono::milliseconds(200);
  Error e;
  auto set = MultipathSet::connect(paths, &e);
  ASSERT_TRUE(set) << e.to_string();
  ASSERT_EQ(set->ana_state(1, 1), NVME_ANA_STATE_NONOPTIMIZED);
  const auto a = address(0);
  std::thread drop([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    target_.target().remove_listener(a);
  });
  std::vector<std::uint8_t> out(4096);
  nvme::Status st = set->read_sync(1, 5000, 8, out.data());
  drop.join();
  EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_EQ(set->last_path(), 1u);
  EXPECT_GE(set->retries(), 1u);
}

TEST_F(MultipathFunctional, PathsToAnotherSubsystemAreRefused) {
  Error e;
  auto set = MultipathSet::connect({target_.options(kNqn, 0), target_.options(kOtherNqn, 1)}, &e);
  EXPECT_FALSE(set);
  EXPECT_NE(e.message.find("path 2"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("subsystem"), std::string::npos) << e.message;
}

}  // namespace
