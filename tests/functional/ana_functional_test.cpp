// `nvmf target-ctl set-ana-state` against a running `nvmf target` with two listeners (ports 1 and 2) of one
// subsystem: I/O through the port set inaccessible fails with the ANA status while the other port serves it,
// the state comes back, save-config carries the states, and bad requests are refused naming the field.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "target/control_client.hpp"
#include "target/config.hpp"
#include "tests/functional/process.hpp"

using namespace nvmf;
using nlohmann::json;
using nvmf::test::run_command;

namespace {

constexpr auto kTimeout = std::chrono::milliseconds(15000);
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:ana";

class AnaFunctional : public ::testing::Test {
 protected:
  void SetUp() override {
    json config = {{"listeners", {"tcp:127.0.0.1:0", "tcp:127.0.0.1:0"}},
                   {"discovery_port", 0},
                   {"subsystems", {{{"nqn", kNqn}, {"namespaces", {{{"backend", "ram"}, {"size", "1M"}}}}}}}};
    std::ofstream(dir_.file("target.json")) << config.dump(2);
    const std::string ready = dir_.file("ready");
    std::string error;
    ASSERT_TRUE(process_.start({test::nvmf_binary(), "target", "--config", dir_.file("target.json"),
                                "--control-socket", socket(), "--ready-file", ready},
                               dir_.file("target.log"), &error))
        << error;
    for (auto end = std::chrono::steady_clock::now() + kTimeout; std::chrono::steady_clock::now() < end;) {
      if (std::ifstream(ready).good()) break;
      ASSERT_TRUE(process_.running()) << process_.log();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    json listeners = served().at("listeners");
    ASSERT_EQ(listeners.size(), 2u) << listeners.dump();
    for (int i = 0; i < 2; ++i) ports_[i] = target::parse_listen_address(listeners[i].get<std::string>()).trsvcid;
  }
  void TearDown() override {
    if (HasFailure()) std::fprintf(stderr, "---- target log ----\n%s\n", process_.log().c_str());
  }

  std::string socket() const { return dir_.file("control.sock"); }
  json served() { return target::control_request(socket(), {{"op", "save-config"}}).at("config"); }
  test::CommandResult set_state(const std::string& port, const std::string& group, const std::string& state) {
    return run_command({test::nvmf_binary(), "target-ctl", "--socket", socket(), "set-ana-state", "--port", port,
                        "--group", group, "--state", state},
                       kTimeout);
  }
  /// Reads block 0 through listener `index`.
  test::CommandResult read_through(int index) {
    return run_command({test::nvmf_binary(), "read", "-a", "127.0.0.1", "-s", ports_[index], "-n", kNqn, "-S", "0",
                        "-c", "0", "-d", dir_.file("out.bin")},
                       kTimeout);
  }

  test::TempDir dir_;
  test::BackgroundProcess process_;
  std::string ports_[2];
};

TEST_F(AnaFunctional, InaccessiblePortFailsIoWhileTheOtherServesIt) {
  ASSERT_EQ(read_through(0).exit_code, 0);
  auto set = set_state("1", "1", "inaccessible");
  ASSERT_EQ(set.exit_code, 0) << set.err;
  auto failed = read_through(0);
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_NE(failed.err.find("Inaccessible"), std::string::npos) << failed.err;
  EXPECT_EQ(read_through(1).exit_code, 0);
  // save-config writes the state; the other port has none set.
  json listeners = served().at("listeners");
  ASSERT_TRUE(listeners[0].is_object()) << listeners.dump();
  EXPECT_EQ(listeners[0]["ana_groups"], (json{{{"grpid", 1}, {"state", "inaccessible"}}})) << listeners.dump();
  EXPECT_TRUE(listeners[1].is_string()) << listeners.dump();
  // `target-ctl list` shows the port's state.
  json ports = target::control_request(socket(), {{"op", "list"}}).at("ports");
  ASSERT_GE(ports.size(), 2u) << ports.dump();
  EXPECT_EQ(ports[0]["portid"], 1);
  EXPECT_EQ(ports[0]["ana_groups"], (json{{{"grpid", 1}, {"state", "inaccessible"}}})) << ports.dump();
  EXPECT_FALSE(ports[1].contains("ana_groups")) << ports.dump();

  ASSERT_EQ(set_state("1", "1", "optimized").exit_code, 0);
  EXPECT_EQ(read_through(0).exit_code, 0);
}

TEST_F(AnaFunctional, BadRequestsAreRefusedNamingTheField) {
  auto state = set_state("1", "1", "sleepy");
  EXPECT_NE(state.exit_code, 0);
  EXPECT_NE(state.err.find("/state"), std::string::npos) << state.err;
  auto port = set_state("9", "1", "inaccessible");
  EXPECT_NE(port.exit_code, 0);
  EXPECT_NE(port.err.find("port"), std::string::npos) << port.err;
  EXPECT_NE(port.err.find("no such port"), std::string::npos) << port.err;
  auto group = set_state("1", "200", "inaccessible");
  EXPECT_NE(group.exit_code, 0);
  EXPECT_NE(group.err.find("/group"), std::string::npos) << group.err;
  EXPECT_EQ(read_through(0).exit_code, 0);  // nothing applied
}

}  // namespace
