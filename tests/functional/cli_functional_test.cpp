// The nvmf command line against a real `nvmf target` process: discover and id-ctrl JSON parsed and checked,
// a file written then read back byte for byte, perf --verify, and the failures that must exit non-zero.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tests/functional/target_fixture.hpp"

using namespace nvmf;
using nvmf::test::CommandResult;
using nvmf::test::run_command;
using nvmf::test::TargetProcess;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:cli";
constexpr auto kTimeout = std::chrono::milliseconds(30000);

class CliFunctional : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.serial = "SNCLI0001";
    s.model = "nvmf cli model";
    s.namespaces = {test::NamespaceSpec{32ull << 20, 512}};
    spec.subsystems = {s};
    target_ = new TargetProcess();
    std::string error;
    if (!target_->start(spec, &error)) startup_error_ = new std::string(error);
  }
  static void TearDownTestSuite() {
    delete target_;
    delete startup_error_;
    target_ = nullptr;
    startup_error_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(startup_error_, nullptr) << *startup_error_; }
  void TearDown() override {
    if (HasFailure() && target_) std::fprintf(stderr, "---- target log ----\n%s\n", target_->log().c_str());
  }

  // nvmf <sub> -a ADDR -s PORT [-n NQN] -q HOSTNQN ... extra
  static CommandResult nvmf(const std::string& sub, const std::vector<std::string>& extra, bool with_nqn = true,
                            const std::string& input = {}) {
    std::vector<std::string> argv = {test::nvmf_binary(), sub, "-a", target_->endpoint().traddr, "-s",
                                     target_->endpoint().trsvcid};
    if (with_nqn) argv.insert(argv.end(), {"-n", kNqn});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, kTimeout, input);
  }

  static TargetProcess* target_;
  static std::string* startup_error_;
};
TargetProcess* CliFunctional::target_ = nullptr;
std::string* CliFunctional::startup_error_ = nullptr;

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\nstdout:\n" + r.out +
         "\nstderr:\n" + r.err;
}
}  // namespace

TEST_F(CliFunctional, DiscoverJsonListsTheSubsystem) {
  CommandResult r = nvmf("discover", {"-o", "json"}, false);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("genctr"));
  bool found = false;
  for (const auto& rec : j.at("records")) {
    if (rec.at("subnqn") != kNqn) continue;
    found = true;
    EXPECT_EQ(rec.at("trtype"), "tcp");
    EXPECT_EQ(rec.at("adrfam"), "ipv4");
    EXPECT_EQ(rec.at("traddr"), target_->endpoint().traddr);
    EXPECT_EQ(rec.at("trsvcid"), target_->endpoint().trsvcid);
    EXPECT_EQ(rec.at("subtype"), "nvme subsystem");
  }
  EXPECT_TRUE(found) << r.out;
}

TEST_F(CliFunctional, IdCtrlJsonCarriesTheConfiguredIdentity) {
  CommandResult r = nvmf("id-ctrl", {"-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("sn"), "SNCLI0001");
  EXPECT_EQ(j.at("mn"), "nvmf cli model");
  EXPECT_EQ(j.at("subnqn"), kNqn);
  EXPECT_GE(j.at("ioccsz").get<int>(), 4);
  EXPECT_EQ(j.at("sqes").get<int>() & 0xf, 6);
  EXPECT_EQ(j.at("cqes").get<int>() & 0xf, 4);
}

TEST_F(CliFunctional, IdNsAndListNs) {
  CommandResult r = nvmf("id-ns", {"-o", "json", "-N", "1"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("nsze").get<std::uint64_t>(), (32ull << 20) / 512);
  const int flbas = j.at("flbas").get<int>() & 0xf;
  EXPECT_EQ(j.at("lbafs").at(flbas).at("ds").get<int>(), 9);
  r = nvmf("list-ns", {"-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(nlohmann::json::parse(r.out).at("nsid_list").at(0).at("nsid"), 1);
}

TEST_F(CliFunctional, WriteThenReadFileRoundTrip) {
  test::TempDir dir;
  std::mt19937 rng(99);
  std::string payload(300000, '\0');  // not a multiple of the block size: the write pads with zeroes
  for (auto& c : payload) c = static_cast<char>(rng());
  std::ofstream(dir.file("in.bin"), std::ios::binary).write(payload.data(), static_cast<std::streamsize>(payload.size()));

  CommandResult w = nvmf("write", {"-S", "2048", "-z", std::to_string(payload.size()), "-d", dir.file("in.bin")});
  ASSERT_EQ(w.exit_code, 0) << describe(w);
  CommandResult r = nvmf("read", {"-S", "2048", "-z", std::to_string(payload.size()), "-d", dir.file("out.bin")});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::ifstream in(dir.file("out.bin"), std::ios::binary);
  std::stringstream back;
  back << in.rdbuf();
  EXPECT_EQ(back.str().size(), payload.size());
  EXPECT_TRUE(back.str() == payload) << "read-back differs from what was written";

  // Through stdin/stdout too, with a 0's based block count (nvme-cli semantics): 8 blocks.
  CommandResult w2 = nvmf("write", {"-S", "10", "-c", "7"}, true, payload.substr(0, 4096));
  ASSERT_EQ(w2.exit_code, 0) << describe(w2);
  CommandResult r2 = nvmf("read", {"-S", "10", "-c", "7"});
  ASSERT_EQ(r2.exit_code, 0) << describe(r2);
  EXPECT_TRUE(r2.out == payload.substr(0, 4096));
  CommandResult cmp = nvmf("compare", {"-S", "10", "-c", "7"}, true, payload.substr(0, 4096));
  EXPECT_EQ(cmp.exit_code, 0) << describe(cmp);
  CommandResult miscmp = nvmf("compare", {"-S", "11", "-c", "7"}, true, payload.substr(0, 4096));
  EXPECT_NE(miscmp.exit_code, 0) << describe(miscmp);
  EXPECT_NE(miscmp.err.find("Compare"), std::string::npos) << miscmp.err;
  EXPECT_EQ(nvmf("flush", {}).exit_code, 0);
}

TEST_F(CliFunctional, PerfVerifyExitsZeroAndReportsJson) {
  CommandResult r = nvmf("perf", {"-q", "16", "-o", "4096", "-w", "randread", "-t", "1.5", "--verify",
                                  "--region-size", "8", "--output-format", "json", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("ok").get<bool>());
  ASSERT_EQ(j.at("phases").size(), 2u);
  EXPECT_EQ(j.at("phases")[1].at("name"), "read-verify");
  EXPECT_GT(j.at("phases")[1].at("iops").get<double>(), 0);
  EXPECT_EQ(j.at("verify_errors"), 0);
}

TEST_F(CliFunctional, FailuresExitNonZero) {
  std::vector<std::string> argv = {test::nvmf_binary(), "id-ctrl", "-a", target_->endpoint().traddr, "-s",
                                   target_->endpoint().trsvcid, "-n", "nqn.2024-01.io.nvmf.test:missing"};
  CommandResult r = run_command(argv, kTimeout);
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("Connect"), std::string::npos) << r.err;
  CommandResult range = nvmf("read", {"-S", std::to_string((32ull << 20) / 512), "-c", "0"});
  EXPECT_NE(range.exit_code, 0) << describe(range);
  CommandResult usage = nvmf("perf", {"-w", "sideways"});
  EXPECT_NE(usage.exit_code, 0);
}
