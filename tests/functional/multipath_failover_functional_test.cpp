// Host multipath failover end to end with the command line: two `nvmf target` processes export the same file
// under the same subsystem NQN (so the same serial number and namespace NGUID) on two loopback ports, and
// `nvmf perf --verify` runs over both paths. One target is SIGKILLed mid-run: the run finishes with no I/O error
// and no verify mismatch, and reports the commands it sent again on the other path. The killed target is started
// again on its port: the host reconnects that path and sends it I/O again (the new process counts reads).
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
constexpr const char* kNqn = "nqn.2024-01.io.nvmf.test:failover";
constexpr auto kTimeout = std::chrono::seconds(20);

// One `nvmf target` process serving the shared file, restartable on the port it first bound.
class PathTarget {
 public:
  PathTarget(const TempDir& dir, std::string name, std::string file)
      : dir_(dir), name_(std::move(name)), file_(std::move(file)) {}

  bool start(std::string* error) {
    const std::string ready = dir_.file(name_ + "-ready" + std::to_string(starts_));
    std::vector<std::string> argv = {nvmf::test::nvmf_binary(), "target", "--listen",
                                     "tcp:127.0.0.1:" + (port_.empty() ? std::string("0") : port_),
                                     "--discovery-port", "0", "--cores", "0", "--subsystem", kNqn,
                                     "--namespace", "file:" + file_, "--ready-file", ready,
                                     "--control-socket", socket(), "--metrics", "none"};
    process_ = std::make_unique<BackgroundProcess>();
    if (!process_->start(argv, dir_.file(name_ + std::to_string(starts_++) + ".log"), error)) return false;
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
  void kill_hard() {  // a crash: no goodbye on the connections
    if (process_ && process_->pid() > 0) ::kill(process_->pid(), SIGKILL);
    if (process_) process_->stop();
  }
  /// Wait (at most 10 s) until `count` I/O controllers were created in this process's life, then `settle`.
  bool wait_for_io_controllers(unsigned count, std::chrono::milliseconds settle) const {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    const std::string mark = std::string("created: subsystem ") + kNqn;
    while (Clock::now() < deadline) {
      const std::string text = log();
      unsigned seen = 0;
      for (auto at = text.find(mark); at != std::string::npos; at = text.find(mark, at + 1)) ++seen;
      if (seen >= count) {
        std::this_thread::sleep_for(settle);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  /// Read commands this process has served, from its control socket's statistics; -1 when unreadable.
  long long reads_served() const {
    CommandResult r = nvmf::test::run_command(
        {nvmf::test::nvmf_binary(), "target-ctl", "--socket", socket(), "stats", "-o", "json"}, kTimeout);
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (r.exit_code != 0 || j.is_discarded() || j["subsystems"].empty()) return -1;
    return j["subsystems"][0]["total"]["ops"]["read"]["commands"].get<long long>();
  }
  const std::string& port() const { return port_; }
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  std::string socket() const { return dir_.file(name_ + ".sock"); }

  const TempDir& dir_;
  std::string name_;
  std::string file_;
  std::string port_;
  unsigned starts_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};
}  // namespace

TEST(MultipathFailoverFunctional, TargetKilledMidRunRunFinishesCleanAndThePathReturns) {
  TempDir dir;
  const std::string file = dir.file("shared.img");
  std::ofstream(file).close();
  ASSERT_EQ(truncate(file.c_str(), 32 << 20), 0);
  PathTarget a(dir, "a", file), b(dir, "b", file);
  std::string error;
  ASSERT_TRUE(a.start(&error)) << error;
  ASSERT_TRUE(b.start(&error)) << error;

  auto run = std::async(std::launch::async, [&] {
    return nvmf::test::run_command(
        {nvmf::test::nvmf_binary(), "perf", "--transport", "tcp", "-a", "127.0.0.1", "-s", a.port(), "-s", b.port(),
         "-n", kNqn, "--verify", "-T", "12", "-q", "8", "-o", "4096", "-w", "randread", "--policy", "least-queued",
         "--reconnect-delay", "1", "--ctrl-loss-tmo", "30", "--output-format", "json", "--quiet"},
        std::chrono::seconds(45));
  });
  // One controller per path (the set's queue and the worker's on it): once A's is created and the run is under
  // way, kill A mid-run.
  ASSERT_TRUE(a.wait_for_io_controllers(1, std::chrono::milliseconds(2000))) << a.log();
  a.kill_hard();
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  ASSERT_TRUE(a.start(&error)) << error;
  // The host reconnects the path (reconnect delay 1 s) well before the run ends.
  EXPECT_TRUE(a.wait_for_io_controllers(1, std::chrono::milliseconds(2000))) << a.log();
  CommandResult r = run.get();

  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err << "\n---- target a ----\n" << a.log() << "\n---- target b ----\n" << b.log();
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out << r.err;
  EXPECT_TRUE(j["ok"].get<bool>()) << j.dump(2);
  EXPECT_EQ(j["io_errors"].get<int>(), 0);
  EXPECT_EQ(j["verify_errors"].get<int>(), 0);
  ASSERT_EQ(j["phases"].size(), 2u);
  EXPECT_GT(j["phases"][1]["reads"].get<std::uint64_t>(), 0u);
  // The commands the kill caught went to path B, and both paths carried I/O.
  EXPECT_GT(j["path_retries"].get<std::uint64_t>(), 0u) << j.dump(2);
  ASSERT_EQ(j["path_ios"].size(), 2u);
  EXPECT_GT(j["path_ios"][0].get<std::uint64_t>(), 0u);
  EXPECT_GT(j["path_ios"][1].get<std::uint64_t>(), 0u);
  EXPECT_EQ(j["config"]["path_policy"], "least-queued");
  // The restarted process served reads: the path came back into use.
  EXPECT_GT(a.reads_served(), 0) << a.log();
  EXPECT_GT(b.reads_served(), 0) << b.log();
}

TEST(MultipathFailoverFunctional, MismatchedAddressAndPortCountsAreRefused) {
  CommandResult r = nvmf::test::run_command({nvmf::test::nvmf_binary(), "perf", "-a", "127.0.0.1", "-a", "127.0.0.2",
                                             "-a", "127.0.0.3", "-s", "1", "-s", "2", "-n", kNqn, "-T", "1"},
                                            kTimeout);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("3 -a/--traddr and 2 -s/--trsvcid"), std::string::npos) << r.err;
}
