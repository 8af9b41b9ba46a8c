// `nvmf target --config FILE` combined with command-line options, through the real binary: --listen and the
// subsystem options add to the file, the other options replace its values (docs/configuration.md), and a
// refusal names the file, the JSON pointer, the value and the reason. What the running target serves is read
// back through its control socket (save-config).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "target/control_client.hpp"
#include "tests/functional/process.hpp"

using namespace nvmf;
using nlohmann::json;
using nvmf::test::run_command;

namespace {

constexpr auto kTimeout = std::chrono::milliseconds(15000);
constexpr const char* kFileNqn = "nqn.2024-01.io.nvmf.test:from-file";
constexpr const char* kCliNqn = "nqn.2024-01.io.nvmf.test:from-cli";

json file_config() {
  return {{"listeners", {"tcp:127.0.0.1:0"}},
          {"discovery_port", 0},
          {"queue_depth", 64},
          {"in_capsule_data_size", 4096},
          {"subsystems", {{{"nqn", kFileNqn}, {"namespaces", {{{"backend", "ram"}, {"size", "1M"}}}}}}}};
}

class TargetConfigFunctional : public ::testing::Test {
 protected:
  std::string write_config(const json& config) {
    const std::string path = dir_.file("target.json");
    std::ofstream(path) << config.dump(2);
    return path;
  }
  /// Runs `nvmf target --config FILE extra...` expecting a refusal; returns its stderr.
  std::string refusal(const json& config, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {test::nvmf_binary(), "target", "--config", write_config(config),
                                     "--control-socket", "none"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto r = run_command(argv, kTimeout);
    EXPECT_FALSE(r.timed_out) << "the target started although its configuration is refused";
    EXPECT_EQ(r.exit_code, 1) << r.err;
    return r.err;
  }
  /// Starts `nvmf target --config FILE extra...` and returns the addresses of its ready file.
  std::vector<std::string> start(const json& config, const std::vector<std::string>& extra) {
    const std::string ready = dir_.file("ready");
    std::vector<std::string> argv = {test::nvmf_binary(), "target", "--config", write_config(config),
                                     "--control-socket", socket(), "--ready-file", ready};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::string error;
    EXPECT_TRUE(process_.start(argv, dir_.file("target.log"), &error)) << error;
    for (auto end = std::chrono::steady_clock::now() + kTimeout; std::chrono::steady_clock::now() < end;) {
      std::ifstream f(ready);
      std::vector<std::string> lines;
      for (std::string line; std::getline(f, line);) lines.push_back(line);
      if (!lines.empty()) return lines;
      if (!process_.running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "nvmf target did not become ready:\n" << process_.log();
    return {};
  }
  std::string socket() const { return dir_.file("control.sock"); }
  json served() { return target::control_request(socket(), {{"op", "save-config"}}).at("config"); }

  test::TempDir dir_;
  test::BackgroundProcess process_;
};

TEST_F(TargetConfigFunctional, CommandLineAddsToTheFileAndReplacesItsValues) {
  auto ready = start(file_config(), {"--listen", "tcp:127.0.0.1:0", "--subsystem", kCliNqn, "--namespace", "ram:2M",
                                     "--queue-depth", "32"});
  ASSERT_EQ(ready.size(), 2u) << "--listen adds a listener to the file's";
  json c = served();
  ASSERT_EQ(c["subsystems"].size(), 2u) << c.dump();
  EXPECT_EQ(c["subsystems"][0]["nqn"], kFileNqn);
  EXPECT_EQ(c["subsystems"][1]["nqn"], kCliNqn);
  EXPECT_EQ(c["subsystems"][1]["namespaces"][0]["size"], 2 << 20);
  EXPECT_EQ(c["queue_depth"], 32) << "--queue-depth replaces the file's 64";
  EXPECT_EQ(c["in_capsule_data_size"], 4096) << "a value the command line does not give stays the file's";
  EXPECT_EQ(c["listeners"].size(), 2u);
  EXPECT_EQ(process_.stop(), 0) << process_.log();
}

TEST_F(TargetConfigFunctional, FileAloneKeepsItsValuesAndOneListener) {
  auto ready = start(file_config(), {});
  ASSERT_EQ(ready.size(), 1u) << "the default listener applies only when neither the file nor --listen has one";
  json c = served();
  ASSERT_EQ(c["subsystems"].size(), 1u);
  EXPECT_EQ(c["queue_depth"], 64);
  EXPECT_EQ(c["discovery_port"], 0);
}

TEST_F(TargetConfigFunctional, SubsystemOnBothSidesIsRefusedNamingFileFieldAndReason) {
  std::string err = refusal(file_config(), {"--subsystem", kFileNqn, "--namespace", "ram:1M"});
  EXPECT_NE(err.find("target.json"), std::string::npos) << err;
  EXPECT_NE(err.find("/subsystems"), std::string::npos) << err;
  EXPECT_NE(err.find(kFileNqn), std::string::npos) << err;
  EXPECT_NE(err.find("configured twice"), std::string::npos) << err;
}

TEST_F(TargetConfigFunctional, BadFileValueIsRefusedUnlessTheCommandLineReplacesIt) {
  json bad = file_config();
  bad["max_io_size"] = 5000;
  std::string err = refusal(bad, {});
  EXPECT_NE(err.find("target.json: /max_io_size: '5000': must be a power of two"), std::string::npos) << err;
  // --max-io-size replaces the file's value before validation: the same file now starts.
  ASSERT_EQ(start(bad, {"--max-io-size", "64K"}).size(), 1u);
  EXPECT_EQ(served()["max_io_size"], 65536);
}

TEST_F(TargetConfigFunctional, BadCommandLineValueIsRefusedNamingTheOption) {
  std::string err = refusal(file_config(), {"--queue-depth", "1"});
  EXPECT_NE(err.find("--queue-depth"), std::string::npos) << err;
  EXPECT_NE(err.find("must be from 2 to 1024"), std::string::npos) << err;
}

TEST_F(TargetConfigFunctional, BadHostFromAHostOptionNamesThatOptionNotTheSubsystem) {
  // A host entry made by --dhchap-key carries an NQN too: a bad one must not be blamed on --subsystem.
  const std::string secret = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:";
  std::string err = refusal(file_config(), {"--dhchap-key", "not-an-nqn=" + secret});
  EXPECT_EQ(err.find("--subsystem"), std::string::npos) << err;
  EXPECT_NE(err.find("HOSTNQN"), std::string::npos) << err;
  EXPECT_EQ(err.find(secret), std::string::npos) << "the secret reached the error: " << err;
  err = refusal(file_config(), {"--dhchap-key", std::string(kCliNqn) + "=DHHC-1:00:bad:"});
  EXPECT_NE(err.find("--dhchap-key"), std::string::npos) << err;
  EXPECT_EQ(err.find("DHHC-1:00:bad:"), std::string::npos) << "the secret reached the error: " << err;
}

}  // namespace
