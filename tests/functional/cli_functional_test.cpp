// The nvmf command line against a real `nvmf target` process: discover and id-ctrl JSON parsed and checked,
// a file written then read back byte for byte, perf --verify, and the failures that must exit non-zero.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "nvme/libnvme.hpp"

#include "tests/functional/shared_target_test.hpp"

using namespace nvmf;
using nvmf::test::CommandResult;
using nvmf::test::run_command;
using nvmf::test::TargetProcess;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:cli";
constexpr auto kTimeout = std::chrono::milliseconds(30000);

class CliFunctional : public test::SharedTargetTest<> {
 protected:
  static void SetUpTestSuite() {
    test::TargetSpec spec;
    test::SubsystemSpec s;
    s.nqn = kNqn;
    s.serial = "SNCLI0001";
    s.model = "nvmf cli model";
    s.namespaces = {test::NamespaceSpec{32ull << 20, 512}};
    spec.subsystems = {s};
    start_shared_target(spec);
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

};

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
  CommandResult r = nvmf("perf", {"-q", "16", "-o", "4096", "-w", "randread", "-T", "1.5", "--verify",
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

// A refused Connect shows in the target's log at its default level, with the reason and the Fabrics meaning
// of SCT 1h SC 82h (Connect Invalid Parameters, not the NVM "Attempted Write to Read Only Range").
TEST_F(CliFunctional, RefusedConnectIsLoggedByTheTargetAtTheDefaultLevel) {
  const std::string missing = "nqn.2024-01.io.nvmf.test:refusal-logged";
  std::vector<std::string> argv = {test::nvmf_binary(), "id-ctrl", "-a", target_->endpoint().traddr, "-s",
                                   target_->endpoint().trsvcid, "-n", missing};
  CommandResult r = run_command(argv, kTimeout);
  EXPECT_NE(r.exit_code, 0) << describe(r);
  // The target logs before it answers, and the host exits only after the answer.
  const std::string log = target_->log();
  const auto line_at = log.find("subsystem " + missing + ", qid 0) refused: unknown subsystem");
  ASSERT_NE(line_at, std::string::npos) << log;
  const std::string line = log.substr(line_at, log.find('\n', line_at) - line_at);
  EXPECT_NE(line.find("SCT 1h SC 82h DNR"), std::string::npos) << line;
  EXPECT_EQ(line.find("Read Only"), std::string::npos) << line;
}

TEST_F(CliFunctional, PerfJsonCarriesTheHistogramAndBusyPoll) {
  // -t is the transport on perf as on every host command; -T the run time (README "Option spelling").
  CommandResult r = nvmf("perf", {"-t", "tcp", "-q", "8", "-o", "4096", "-w", "randread", "-T", "1", "--busy-poll",
                                  "--output-format", "json", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("config").at("busy_poll").get<bool>());
  const auto& phase = j.at("phases").at(0);
  const auto& h = phase.at("histogram");
  ASSERT_FALSE(h.empty());
  std::uint64_t total = 0;
  double last = -1;
  for (const auto& b : h) {
    EXPECT_GT(b.at("count").get<std::uint64_t>(), 0u) << "only non-empty buckets are listed";
    EXPECT_GT(b.at("le_us").get<double>(), last) << "buckets in increasing order";
    last = b.at("le_us").get<double>();
    total += b.at("count").get<std::uint64_t>();
  }
  EXPECT_EQ(total, phase.at("ios").get<std::uint64_t>());
  EXPECT_GE(last, phase.at("latency_us").at("max").get<double>() - 1e-9) << "the last edge covers the maximum";
}

TEST_F(CliFunctional, GetFeatureReportsTheNegotiatedKeepAlive) {
  CommandResult r = nvmf("get-feature", {"-f", "0x0f", "-k", "7", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("name"), "Keep Alive Timer");
  EXPECT_EQ(j.at("value").get<std::uint32_t>(), 7000u) << "KATO in ms, as sent in the Connect";
  CommandResult text = nvmf("get-feature", {"-f", "7"});
  ASSERT_EQ(text.exit_code, 0) << describe(text);
  EXPECT_NE(text.out.find("get-feature:0x07 (Number of Queues), Current value:0x"), std::string::npos) << text.out;
  CommandResult bad = nvmf("get-feature", {"-f", "0x7f"});
  EXPECT_NE(bad.exit_code, 0) << describe(bad);
  EXPECT_NE(bad.err.find("Invalid Field"), std::string::npos) << bad.err;
}

TEST_F(CliFunctional, ChangedNamespaceAndCommandEffectsLogs) {
  CommandResult effects = nvmf("get-log", {"--log-id", "5", "-o", "json"});
  ASSERT_EQ(effects.exit_code, 0) << describe(effects);
  auto j = nlohmann::json::parse(effects.out);
  auto find = [](const nlohmann::json& list, unsigned op) {
    for (const auto& e : list)
      if (e.at("opcode").get<unsigned>() == op) return e;
    return nlohmann::json();
  };
  EXPECT_FALSE(find(j.at("admin_commands"), nvme_admin_identify).is_null());
  auto write = find(j.at("io_commands"), nvme_cmd_write);
  ASSERT_FALSE(write.is_null()) << j.dump();
  EXPECT_TRUE(write.at("lbcc").get<bool>()) << "a write changes logical block content";
  CommandResult changed = nvmf("get-log", {"--log-id", "4", "-o", "json"});
  ASSERT_EQ(changed.exit_code, 0) << describe(changed);
  EXPECT_TRUE(nlohmann::json::parse(changed.out).at("changed_ns_list").is_array());
  EXPECT_EQ(nvmf("effects-log", {}).exit_code, 0);
  EXPECT_EQ(nvmf("changed-ns-list-log", {}).exit_code, 0);
}

TEST_F(CliFunctional, ConnectAllAttachesAndListSubsysGroups) {
  CommandResult all = nvmf("connect-all", {"-o", "json"}, false);
  ASSERT_EQ(all.exit_code, 0) << describe(all);
  auto j = nlohmann::json::parse(all.out);
  ASSERT_EQ(j.at("subsystems").size(), 1u);
  const auto& s = j.at("subsystems")[0];
  EXPECT_EQ(s.at("subnqn"), kNqn);
  EXPECT_TRUE(s.at("attached").get<bool>());
  EXPECT_EQ(s.at("namespaces").size(), 1u);
  EXPECT_EQ(s.at("namespaces")[0].at("size_bytes").get<std::uint64_t>(), 32ull << 20);

  CommandResult list = nvmf("list-subsys", {"-o", "json"}, false);
  ASSERT_EQ(list.exit_code, 0) << describe(list);
  auto l = nlohmann::json::parse(list.out);
  ASSERT_EQ(l.at("subsystems").size(), 1u);
  EXPECT_EQ(l.at("subsystems")[0].at("nqn"), kNqn);
  EXPECT_EQ(l.at("subsystems")[0].at("paths")[0].at("trsvcid"), target_->endpoint().trsvcid);
  CommandResult text = nvmf("list-subsys", {}, false);
  EXPECT_NE(text.out.find(std::string(kNqn) + "\n +- tcp traddr="), std::string::npos) << text.out;
}

TEST_F(CliFunctional, NvmeCliLongAndShortSpellings) {
  const std::string addr = target_->endpoint().traddr, port = target_->endpoint().trsvcid;
  CommandResult longs = run_command(
      {test::nvmf_binary(), "id-ctrl", "--transport", "tcp", "--traddr", addr, "--trsvcid", port, "--nqn", kNqn,
       "--hostnqn", test::kTestHostNqn, "--hostid", test::kTestHostId, "--nr-io-queues", "2", "--queue-size", "64",
       "--keep-alive-tmo", "3", "--hdr-digest", "--data-digest", "--output-format", "json"},
      kTimeout);
  ASSERT_EQ(longs.exit_code, 0) << describe(longs);
  CommandResult shorts = run_command({test::nvmf_binary(), "id-ctrl", "-t", "tcp", "-a", addr, "-s", port, "-n", kNqn,
                                      "-q", test::kTestHostNqn, "-I", test::kTestHostId, "-i", "2", "-Q", "64", "-k",
                                      "3", "-g", "-G", "-o", "json"},
                                     kTimeout);
  ASSERT_EQ(shorts.exit_code, 0) << describe(shorts);
  auto long_id = nlohmann::json::parse(longs.out), short_id = nlohmann::json::parse(shorts.out);
  long_id.erase("cntlid");  // each connection is a new controller
  short_id.erase("cntlid");
  EXPECT_EQ(long_id, short_id);

  test::TempDir dir;
  const std::string in = dir.file("in"), out = dir.file("out");
  std::string data(3000, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 23);
  FILE* f = std::fopen(in.c_str(), "wb");
  ASSERT_TRUE(f);
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
  CommandResult w = nvmf("write", {"--start-block", "40", "--block-count", "5", "--data-size", "3000", "--data", in});
  ASSERT_EQ(w.exit_code, 0) << describe(w);
  CommandResult r = nvmf("read", {"--start-block", "40", "--block-count", "5", "--data-size", "3000", "--data", out});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::string back(3000, '\0');
  f = std::fopen(out.c_str(), "rb");
  ASSERT_TRUE(f);
  EXPECT_EQ(std::fread(back.data(), 1, back.size(), f), back.size());
  std::fclose(f);
  EXPECT_EQ(back, data);

  CommandResult bad = nvmf("id-ctrl", {"-t", "fc"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE((bad.out + bad.err).find("not supported"), std::string::npos) << describe(bad);
}

TEST_F(CliFunctional, VersionComesFromTheProjectAndJsonOutputCarriesIt) {
  CommandResult v = run_command({test::nvmf_binary(), "--version"}, kTimeout);
  ASSERT_EQ(v.exit_code, 0) << describe(v);
  ASSERT_EQ(v.out.rfind("nvmf ", 0), 0u) << v.out;
  const std::string version = v.out.substr(5, v.out.find('\n') - 5);
  EXPECT_NE(version.find('.'), std::string::npos) << v.out;
  CommandResult r = nvmf("id-ctrl", {"-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(nlohmann::json::parse(r.out).at("nvmf_version"), version);
}
