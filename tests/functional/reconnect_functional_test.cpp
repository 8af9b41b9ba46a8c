// Failure behaviour of the host, end to end with the command line against `nvmf target` processes: the target
// killed and started again on the same port and file mid-run (the host reconnects, the verified run finishes,
// data intact); the target gone for good (the run fails within ctrl-loss-tmo, with the reason); the target
// unreachable at start (a clear error and a non-zero exit, promptly). Every wait is bounded.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/functional/process.hpp"

using nvmf::test::BackgroundProcess;
using nvmf::test::CommandResult;
using nvmf::test::TempDir;
using Clock = std::chrono::steady_clock;

namespace {
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:reconnect";

// One `nvmf target` over a file namespace, restartable on the port it first bound.
class FileTarget {
 public:
  explicit FileTarget(const TempDir& dir) : dir_(dir), file_(dir.file("ns.img")) {
    std::ofstream(file_).close();
    if (truncate(file_.c_str(), 32 << 20) != 0) ADD_FAILURE() << "truncate " << file_;
  }
  bool start(std::string* error) {
    const std::string ready = dir_.file("ready" + std::to_string(starts_));
    std::vector<std::string> argv = {nvmf::test::nvmf_binary(), "target", "--listen",
                                     "tcp:127.0.0.1:" + (port_.empty() ? std::string("0") : port_),
                                     "--discovery-port", "0", "--cores", "0", "--subsystem", kNqn,
                                     "--namespace", "file:" + file_, "--ready-file", ready};
    process_ = std::make_unique<BackgroundProcess>();
    if (!process_->start(argv, dir_.file("target" + std::to_string(starts_++) + ".log"), error)) return false;
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      std::ifstream f(ready);
      std::string line;
      if (std::getline(f, line) && line.rfind(':') != std::string::npos) {
        port_ = line.substr(line.rfind(':') + 1);
        return true;
      }
      if (!process_->running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    *error = "nvmf target did not start:\n" + process_->log();
    return false;
  }
  void kill_hard() {  // a crash, not an orderly stop: no goodbye on the connections
    if (process_ && process_->pid() > 0) ::kill(process_->pid(), SIGKILL);
    if (process_) process_->stop();
  }
  const std::string& port() const { return port_; }
  /// Wait (at most 10 s) until a host has created an I/O controller, then `settle` more: the run is under
  /// way, so a kill now hits it mid-I/O rather than before it connected (a loaded machine starts slowly).
  bool wait_for_host(std::chrono::milliseconds settle) const {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      if (log().find(std::string("created: subsystem ") + kNqn) != std::string::npos) {
        std::this_thread::sleep_for(settle);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  const TempDir& dir_;
  std::string file_;
  std::string port_;
  unsigned starts_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

std::vector<std::string> perf_args(const std::string& port, const std::string& seconds,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {nvmf::test::nvmf_binary(), "perf", "--transport", "tcp", "-a", "127.0.0.1", "-s",
                                   port, "-n", kNqn, "--verify", "-T", seconds, "-q", "8", "-o", "4096", "-w",
                                   "randread", "--output-format", "json", "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}
}  // namespace

TEST(ReconnectFunctional, TargetRestartedMidRunHostReconnectsAndVerifies) {
  TempDir dir;
  FileTarget target(dir);
  std::string error;
  ASSERT_TRUE(target.start(&error)) << error;

  auto run = std::async(std::launch::async, [&] {
    return nvmf::test::run_command(perf_args(target.port(), "6", {"--reconnect-delay", "1", "--ctrl-loss-tmo", "30"}),
                                   std::chrono::seconds(60));
  });
  ASSERT_TRUE(target.wait_for_host(std::chrono::milliseconds(1000))) << target.log();
  target.kill_hard();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_TRUE(target.start(&error)) << error;
  CommandResult r = run.get();

  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err << "\n---- target ----\n" << target.log();
  EXPECT_NE(r.err.find("association lost"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("reconnected"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_TRUE(j["ok"].get<bool>()) << j.dump(2);
  EXPECT_EQ(j["verify_errors"].get<int>(), 0);
  EXPECT_EQ(j["io_errors"].get<int>(), 0);
  ASSERT_EQ(j["phases"].size(), 2u);
  EXPECT_GT(j["phases"][1]["reads"].get<std::uint64_t>(), 0u);
}

TEST(ReconnectFunctional, TargetGoneForGoodFailsWithinCtrlLossTimeout) {
  TempDir dir;
  FileTarget target(dir);
  std::string error;
  ASSERT_TRUE(target.start(&error)) << error;

  const auto start = Clock::now();
  auto run = std::async(std::launch::async, [&] {
    return nvmf::test::run_command(perf_args(target.port(), "30", {"--reconnect-delay", "1", "--ctrl-loss-tmo", "2"}),
                                   std::chrono::seconds(60));
  });
  ASSERT_TRUE(target.wait_for_host(std::chrono::milliseconds(500))) << target.log();
  target.kill_hard();
  CommandResult r = run.get();
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start);

  ASSERT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_LT(elapsed.count(), 15) << "gave up long after ctrl-loss-tmo (2 s)";
  EXPECT_NE(r.err.find("giving up (ctrl-loss-tmo"), std::string::npos) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_NE(j["error"].get<std::string>().find("Host Pathing Error"), std::string::npos) << j["error"];
}

TEST(ReconnectFunctional, UnreachableTargetAtStartIsAClearErrorNotAHang) {
  TempDir dir;
  FileTarget target(dir);
  std::string error;
  ASSERT_TRUE(target.start(&error)) << error;
  const std::string port = target.port();
  target.kill_hard();  // the port is known and nothing listens on it any more

  const auto start = Clock::now();
  CommandResult id = nvmf::test::run_command(
      {nvmf::test::nvmf_binary(), "id-ctrl", "-t", "tcp", "-a", "127.0.0.1", "-s", port, "-n", kNqn},
      std::chrono::seconds(30));
  EXPECT_FALSE(id.timed_out);
  EXPECT_EQ(id.exit_code, 1);
  EXPECT_NE(id.err.find("failed to connect"), std::string::npos) << id.err;
  EXPECT_NE(id.err.find("127.0.0.1:" + port), std::string::npos) << id.err;

  CommandResult perf = nvmf::test::run_command(perf_args(port, "5", {}), std::chrono::seconds(30));
  EXPECT_FALSE(perf.timed_out);
  EXPECT_EQ(perf.exit_code, 1);
  EXPECT_NE(perf.err.find("failed to connect"), std::string::npos) << perf.err;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST(ReconnectFunctional, FastIoFailFailsQueuedIoBeforeCtrlLossTimeout) {
  TempDir dir;
  FileTarget target(dir);
  std::string error;
  ASSERT_TRUE(target.start(&error)) << error;

  const auto start = Clock::now();
  auto run = std::async(std::launch::async, [&] {
    return nvmf::test::run_command(perf_args(target.port(), "30", {"--reconnect-delay", "1", "--ctrl-loss-tmo", "60",
                                                                   "--fast_io_fail_tmo", "1"}),
                                   std::chrono::seconds(60));
  });
  ASSERT_TRUE(target.wait_for_host(std::chrono::milliseconds(500))) << target.log();
  target.kill_hard();
  CommandResult r = run.get();
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start);

  ASSERT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_LT(elapsed.count(), 10) << "queued I/O waited past fast-io-fail-tmo (1 s)";
  EXPECT_NE(r.err.find("fast-io-fail-tmo expired"), std::string::npos) << r.err << r.out;
  EXPECT_EQ(r.err.find("giving up"), std::string::npos) << "ctrl-loss-tmo (60 s) cannot have expired: " << r.err;
}
