// Injected backend faults through our host and the real `nvmf target`: each fault reaches `nvmf read`,
// `nvmf write` and `nvmf perf` as the NVMe status a failing drive returns, commands outside the selection
// succeed, and the target keeps serving the same connection-less CLI sessions afterwards.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/functional/shared_target_test.hpp"

using namespace nvmf;
using nvmf::test::CommandResult;
using nvmf::test::run_command;
using nvmf::test::TargetProcess;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:faults";
constexpr auto kTimeout = std::chrono::milliseconds(30000);
constexpr const char* kFaults =
    "read_error=lba:1000-1999,write_error=lba:3000-3009,write_nospace=lba:4000-4009,delay_us=300000@lba:5000";

class FaultFunctional : public test::SharedTargetTest<> {
 protected:
  static void SetUpTestSuite() {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.namespaces = {test::NamespaceSpec{8ull << 20, 512, kFaults}};
    spec.subsystems = {s};
    start_shared_target(spec);
  }

  static CommandResult nvmf(const std::string& sub, const std::vector<std::string>& extra,
                            const std::string& input = {}) {
    std::vector<std::string> argv = {test::nvmf_binary(), sub, "-a", target_->endpoint().traddr, "-s",
                                     target_->endpoint().trsvcid, "-n", kNqn};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, kTimeout, input);
  }
  static CommandResult read(std::uint64_t lba) { return nvmf("read", {"-S", std::to_string(lba), "-c", "0"}); }
  static CommandResult write(std::uint64_t lba) {
    return nvmf("write", {"-S", std::to_string(lba), "-c", "0"}, std::string(512, 'w'));
  }

};

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\nstdout:\n" + r.out +
         "\nstderr:\n" + r.err;
}
}  // namespace

TEST_F(FaultFunctional, ReadErrorIsAnUnrecoveredReadErrorAndOtherLbasRead) {
  CommandResult bad = read(1500);
  EXPECT_NE(bad.exit_code, 0) << describe(bad);
  EXPECT_NE(bad.err.find("Unrecovered Read Error"), std::string::npos) << describe(bad);
  CommandResult good = read(999);
  EXPECT_EQ(good.exit_code, 0) << describe(good);
  EXPECT_EQ(good.out.size(), 512u);
  CommandResult again = read(1000);
  EXPECT_NE(again.err.find("Unrecovered Read Error"), std::string::npos) << describe(again);
}

TEST_F(FaultFunctional, WriteErrorIsAWriteFaultAndNoSpaceIsCapacityExceeded) {
  CommandResult fault = write(3005);
  EXPECT_NE(fault.exit_code, 0) << describe(fault);
  EXPECT_NE(fault.err.find("Write Fault"), std::string::npos) << describe(fault);
  CommandResult nospace = write(4000);
  EXPECT_NE(nospace.exit_code, 0) << describe(nospace);
  EXPECT_NE(nospace.err.find("Capacity Exceeded"), std::string::npos) << describe(nospace);
  CommandResult good = write(3010);
  EXPECT_EQ(good.exit_code, 0) << describe(good);
  CommandResult back = read(3010);
  ASSERT_EQ(back.exit_code, 0) << describe(back);
  EXPECT_EQ(back.out, std::string(512, 'w'));
}

TEST_F(FaultFunctional, DelayedReadCompletesLateButIntact) {
  ASSERT_EQ(write(5000).exit_code, 0);
  const auto start = std::chrono::steady_clock::now();
  CommandResult slow = read(5000);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(slow.exit_code, 0) << describe(slow);
  EXPECT_EQ(slow.out, std::string(512, 'w'));
  EXPECT_GE(took, std::chrono::milliseconds(300));
}

TEST_F(FaultFunctional, PerfReportsTheInjectedStatus) {
  // The first MiB (LBAs 0-2047) holds the failing range 1000-1999: random reads there meet it at once.
  CommandResult r = nvmf("perf", {"-q", "4", "-o", "4096", "-w", "randread", "-T", "1", "--region-size", "1",
                                  "--seed", "7", "--quiet"});
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("Unrecovered Read Error"), std::string::npos) << describe(r);
  // The target still serves: a read outside the range on a new connection.
  EXPECT_EQ(read(2100).exit_code, 0);
}
