// Reservations between two hosts of our own: `nvmf resv-register/acquire/release/report` and `nvmf write`
// with two host NQNs and host IDs against a real `nvmf target` process on loopback.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/functional/target_fixture.hpp"

using namespace nvmf;
using nvmf::test::CommandResult;
using nvmf::test::run_command;
using nvmf::test::TargetProcess;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:resv";
constexpr auto kTimeout = std::chrono::milliseconds(30000);

struct HostIdentity {
  const char* nqn;
  const char* id;
};
const HostIdentity kA{"nqn.2014-08.org.nvmexpress:uuid:0f6b7a52-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
                      "0f6b7a52-1c2d-4e3f-8a9b-0c1d2e3f4a5b"};
const HostIdentity kB{"nqn.2014-08.org.nvmexpress:uuid:7d8e9fa0-b1c2-4d3e-9f40-5162738495a6",
                      "7d8e9fa0-b1c2-4d3e-9f40-5162738495a6"};

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

class ResvFunctional : public ::testing::Test {
 protected:
  void SetUp() override {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.serial = "SNRESV0001";
    s.namespaces = {test::NamespaceSpec{8ull << 20, 512}};
    spec.subsystems = {s};
    std::string error;
    ASSERT_TRUE(target_.start(spec, &error)) << error;
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "---- target log ----\n%s\n", target_.log().c_str());
  }

  CommandResult nvmf(const HostIdentity& host, const std::string& sub, const std::vector<std::string>& extra,
                     const std::string& input = {}) {
    std::vector<std::string> argv = {test::nvmf_binary(), sub, "-a", target_.endpoint().traddr, "-s",
                                     target_.endpoint().trsvcid, "-n", kNqn, "-q", host.nqn, "-I", host.id};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv, kTimeout, input);
  }
  CommandResult write(const HostIdentity& host) { return nvmf(host, "write", {"-S", "0", "-c", "0"}, std::string(512, 'x')); }
  nlohmann::json report(const HostIdentity& host) {
    CommandResult r = nvmf(host, "resv-report", {"-e", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    return nlohmann::json::parse(r.out, nullptr, false);
  }

  TargetProcess target_;
};

TEST_F(ResvFunctional, WriteExclusiveConflictReleaseAndPreemptAndAbort) {
  ASSERT_EQ(nvmf(kA, "resv-register", {"--nrkey", "0xA1"}).exit_code, 0);
  ASSERT_EQ(nvmf(kB, "resv-register", {"--nrkey", "0xB2"}).exit_code, 0);
  CommandResult acq = nvmf(kA, "resv-acquire", {"-c", "0xA1", "--rtype", "1", "--racqa", "0"});
  ASSERT_EQ(acq.exit_code, 0) << describe(acq);

  CommandResult w = write(kB);
  EXPECT_NE(w.exit_code, 0) << describe(w);
  EXPECT_NE(w.err.find("SC 83h"), std::string::npos) << w.err;  // Reservation Conflict
  EXPECT_EQ(nvmf(kB, "read", {"-S", "0", "-c", "0"}).exit_code, 0);  // Write Exclusive: reads stay open
  EXPECT_EQ(write(kA).exit_code, 0);

  nlohmann::json j = report(kB);
  EXPECT_EQ(j["rtype"], 1) << j.dump();
  EXPECT_EQ(j["regctl"], 2) << j.dump();
  ASSERT_EQ(j["regctlext"].size(), 2u) << j.dump();
  EXPECT_EQ(j["regctlext"][0]["rkey"], 0xA1);
  EXPECT_EQ(j["regctlext"][0]["rcsts"], 1);
  EXPECT_EQ(j["regctlext"][0]["hostid"], "0f6b7a521c2d4e3f8a9b0c1d2e3f4a5b");
  EXPECT_EQ(j["regctlext"][1]["rcsts"], 0);
  CommandResult regular = nvmf(kB, "resv-report", {});
  EXPECT_NE(regular.exit_code, 0);
  EXPECT_NE(regular.err.find("SC 18h"), std::string::npos) << regular.err;  // Host Identifier Inconsistent Format

  ASSERT_EQ(nvmf(kA, "resv-release", {"-c", "0xA1", "--rtype", "1", "--rrela", "0"}).exit_code, 0);
  EXPECT_EQ(write(kB).exit_code, 0);

  // Preempt and abort: B takes an Exclusive Access reservation away from A and unregisters it.
  ASSERT_EQ(nvmf(kA, "resv-acquire", {"-c", "0xA1", "--rtype", "1"}).exit_code, 0);
  CommandResult pre = nvmf(kB, "resv-acquire", {"-c", "0xB2", "-p", "0xA1", "--rtype", "2", "--racqa", "2"});
  ASSERT_EQ(pre.exit_code, 0) << describe(pre);
  j = report(kB);
  EXPECT_EQ(j["rtype"], 2) << j.dump();
  EXPECT_EQ(j["regctl"], 1) << j.dump();
  EXPECT_NE(nvmf(kA, "read", {"-S", "0", "-c", "0"}).exit_code, 0);  // Exclusive Access: A may not even read
  EXPECT_NE(nvmf(kA, "resv-release", {"-c", "0xA1", "--rtype", "2"}).exit_code, 0);  // A is no registrant

  // Clear by the holder: nothing left, A writes again.
  ASSERT_EQ(nvmf(kB, "resv-release", {"-c", "0xB2", "--rrela", "1"}).exit_code, 0);
  j = report(kA);
  EXPECT_EQ(j["rtype"], 0) << j.dump();
  EXPECT_EQ(j["regctl"], 0) << j.dump();
  EXPECT_EQ(write(kA).exit_code, 0);
}

}  // namespace
