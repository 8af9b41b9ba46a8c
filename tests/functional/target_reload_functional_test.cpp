// Reloading a running `nvmf target --config FILE` (SIGHUP, `nvmf target-ctl reload`, systemd's ExecReload),
// through the real binary: the difference between what runs and the file is applied live; a file that fails
// validation, changes a start-only setting or cannot be applied is refused whole, the running configuration
// stays, and the log (logfmt, as the journal gets it) says why.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
// GCC 12 at -O2 with ASan reports libstdc++'s own std::regex automaton as "maybe uninitialized" (a known false
// positive in std::function's move); -Werror would fail the sanitizer build on the library's code, not ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#include <sstream>
#include <thread>

#include "target/control_client.hpp"
#include "tests/functional/process.hpp"

using namespace nvmf;
using nlohmann::json;
using nvmf::test::run_command;

namespace {

constexpr auto kTimeout = std::chrono::milliseconds(15000);
constexpr const char* kNqnA = "nqn.2024-01.io.nvmf.test:reload-a";
constexpr const char* kNqnB = "nqn.2024-01.io.nvmf.test:reload-b";

json ram(const char* size) { return {{"backend", "ram"}, {"size", size}}; }

json base_config() {
  return {{"listeners", {"tcp:127.0.0.1:0"}},
          {"discovery_port", 0},
          {"subsystems", {{{"nqn", kNqnA}, {"namespaces", {ram("1M")}}}}}};
}

class TargetReloadFunctional : public ::testing::Test {
 protected:
  void SetUp() override {
    write_config(base_config());
    const std::string ready = dir_.file("ready");
    std::string error;
    ASSERT_TRUE(process_.start({test::nvmf_binary(), "target", "--config", config_path(), "--control-socket",
                                socket(), "--ready-file", ready},
                               dir_.file("target.log"), &error))
        << error;
    for (auto end = std::chrono::steady_clock::now() + kTimeout; std::chrono::steady_clock::now() < end;) {
      if (std::ifstream(ready).good()) return;
      if (!process_.running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "nvmf target did not become ready:\n" << process_.log();
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "---- target log ----\n%s\n", process_.log().c_str());
  }

  std::string config_path() const { return dir_.file("target.json"); }
  void write_config(const json& config) { std::ofstream(config_path()) << config.dump(2); }
  std::string socket() const { return dir_.file("control.sock"); }
  json served() { return target::control_request(socket(), {{"op", "save-config"}}).at("config"); }
  test::CommandResult target_ctl_reload() {
    return run_command({test::nvmf_binary(), "target-ctl", "--socket", socket(), "reload"}, kTimeout);
  }
  /// Waits until the target's log holds `text`.
  bool log_shows(const std::string& text) {
    for (auto end = std::chrono::steady_clock::now() + kTimeout; std::chrono::steady_clock::now() < end;) {
      if (process_.log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  test::TempDir dir_;
  test::BackgroundProcess process_;
};

TEST_F(TargetReloadFunctional, SighupAppliesTheDifference) {
  json c = base_config();
  c["subsystems"][0]["namespaces"].push_back(ram("2M"));
  c["subsystems"][0]["allowed_hosts"] = {"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001"};
  c["subsystems"].push_back({{"nqn", kNqnB}, {"namespaces", {ram("1M")}}});
  write_config(c);
  ASSERT_EQ(kill(process_.pid(), SIGHUP), 0);
  ASSERT_TRUE(log_shows("msg=\"configuration reloaded: 3 changes\""));
  json s = served();
  ASSERT_EQ(s["subsystems"].size(), 2u) << s.dump();
  EXPECT_EQ(s["subsystems"][0]["namespaces"].size(), 2u) << s.dump();
  EXPECT_EQ(s["subsystems"][0]["allowed_hosts"].size(), 1u) << s.dump();
  EXPECT_EQ(s["subsystems"][1]["nqn"], kNqnB);

  // Back to the first file: the additions go again, through the same path.
  write_config(base_config());
  ASSERT_EQ(kill(process_.pid(), SIGHUP), 0);
  ASSERT_TRUE(log_shows("msg=\"reload: subsystem nqn.2024-01.io.nvmf.test:reload-b removed\""));
  s = served();
  ASSERT_EQ(s["subsystems"].size(), 1u) << s.dump();
  EXPECT_EQ(s["subsystems"][0]["namespaces"].size(), 1u) << s.dump();
  EXPECT_FALSE(s["subsystems"][0].contains("allowed_hosts") && !s["subsystems"][0]["allowed_hosts"].empty());
  EXPECT_EQ(process_.stop(), 0);
}

TEST_F(TargetReloadFunctional, TargetCtlReloadPrintsTheChanges) {
  json c = base_config();
  c["subsystems"].push_back({{"nqn", kNqnB}, {"namespaces", {ram("1M")}}});
  write_config(c);
  auto r = target_ctl_reload();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json reply = json::parse(r.out);
  ASSERT_EQ(reply["changes"].size(), 1u) << r.out;
  EXPECT_EQ(reply["changes"][0], std::string("subsystem ") + kNqnB + " added");
  EXPECT_EQ(served()["subsystems"].size(), 2u);
  // Nothing changed: nothing to do.
  r = target_ctl_reload();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(json::parse(r.out)["changes"].empty()) << r.out;
}

TEST_F(TargetReloadFunctional, InvalidFileIsRefusedWholeAndTheLogSaysWhy) {
  const json before = served();
  json c = base_config();
  c["subsystems"].push_back({{"nqn", kNqnB}, {"namespaces", {ram("1M")}}});  // valid on its own
  c["subsystems"][0]["namespaces"][0]["block_size"] = 1000;
  write_config(c);
  auto r = target_ctl_reload();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("target.json: /subsystems/0/namespaces/0/block_size"), std::string::npos) << r.err;
  EXPECT_EQ(served(), before) << "a refused file changes nothing";
  EXPECT_TRUE(log_shows("level=error component=target msg=\"reload refused, the running configuration stays: "));

  // The same refusal by SIGHUP: the target logs it and keeps serving.
  ASSERT_EQ(kill(process_.pid(), SIGHUP), 0);
  ASSERT_TRUE(log_shows("received SIGHUP"));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(process_.running());
  EXPECT_EQ(served(), before);
}

TEST_F(TargetReloadFunctional, StartOnlySettingIsRefusedNamingIt) {
  const json before = served();
  json c = base_config();
  c["queue_depth"] = 32;
  c["subsystems"].push_back({{"nqn", kNqnB}, {"namespaces", {ram("1M")}}});
  write_config(c);
  auto r = target_ctl_reload();
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("queue_depth"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("only when the target starts"), std::string::npos) << r.err;
  EXPECT_EQ(served(), before);
}

TEST_F(TargetReloadFunctional, ChangeThatFailsUndoesTheOnesMade) {
  const json before = served();
  json c = base_config();
  c["subsystems"].push_back({{"nqn", kNqnB}, {"namespaces", {ram("1M")}}});  // applied first...
  c["subsystems"][0]["namespaces"].push_back(
      {{"backend", "file"}, {"path", dir_.file("missing/backing.img")}});  // ...then this cannot be opened
  write_config(c);
  auto r = target_ctl_reload();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("missing/backing.img"), std::string::npos) << r.err;
  EXPECT_EQ(served(), before) << "the subsystem added before the failure is removed again";
}

TEST_F(TargetReloadFunctional, LogIsLogfmtWhenNotATerminal) {
  ASSERT_TRUE(log_shows("listening on"));
  const std::regex logfmt(
      R"(^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(error|warn|info|debug) component=[a-z_]+( reactor=\d+)? msg="([^"\\]|\\.)*"$)");
  std::istringstream lines(process_.log());
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) EXPECT_TRUE(std::regex_match(line, logfmt)) << line;
  EXPECT_GT(n, 0);
}

}  // namespace
