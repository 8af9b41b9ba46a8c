// `nvmf attach`, `detach` and `list-attached` where the kernel has no ublk (this machine): a clear error at once,
// not a hang and not a connection attempt; a control path that is not ublk's; no privilege; the device registry.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/functional/process.hpp"

using nvmf::test::CommandResult;
using nvmf::test::run_command;

namespace {
constexpr auto kLimit = std::chrono::milliseconds(10000);

// attach against a port where nothing listens: reaching the connection step would say "connect", not ublk.
CommandResult attach_with_control(const std::string& control, const std::vector<std::string>& prefix = {}) {
  std::vector<std::string> argv = prefix;
  // NVMF_NBD_FAMILY: a netlink family no kernel has, so that NBD is missing too, whatever this kernel loads.
  argv.insert(argv.end(), {"/usr/bin/env", "NVMF_UBLK_CONTROL=" + control, "NVMF_NBD_FAMILY=nvmf-test-none",
                           nvmf::test::nvmf_binary(), "attach",
                           "-t", "tcp", "-a", "127.0.0.1", "-s", "9", "-n", "nqn.2024-01.io.nvmf.test:attach"});
  return run_command(argv, kLimit);
}
}  // namespace

TEST(AttachFunctional, NoUblkDriverIsAClearErrorBeforeConnecting) {
  nvmf::test::TempDir dir;
  CommandResult r = attach_with_control(dir.file("ublk-control"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("neither ublk nor NBD is available"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("modprobe ublk_drv"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("modprobe nbd"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("connect"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(AttachFunctional, NotAUblkDeviceCannotMakeADevice) {
  nvmf::test::TempDir dir;
  std::ofstream(dir.file("plain")) << "x";
  CommandResult r = attach_with_control(dir.file("plain"));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not a ublk control device"), std::string::npos) << r.err;

  r = attach_with_control("/dev/null");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not a ublk control device"), std::string::npos) << r.err;
}

TEST(AttachFunctional, WithoutPrivilegeSaysSo) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  const std::vector<std::string> nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  std::vector<std::string> probe = nobody;
  probe.insert(probe.end(), {"/usr/bin/test", "-x", nvmf::test::nvmf_binary()});
  if (run_command(probe, kLimit).exit_code != 0)
    GTEST_SKIP() << "the build directory is not reachable for an unprivileged user (a checkout under /root)";
  nvmf::test::TempDir dir;
  chmod(dir.path().c_str(), 0755);
  const std::string control = dir.file("ublk-control");
  std::ofstream(control) << "x";
  chmod(control.c_str(), 0600);  // as /dev/ublk-control: root only
  CommandResult r = attach_with_control(control, nobody);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
}

TEST(AttachFunctional, NbdAskedForWhereItIsMissing) {
  CommandResult r = run_command({"/usr/bin/env", "NVMF_NBD_FAMILY=nvmf-test-none", nvmf::test::nvmf_binary(),
                                 "attach", "--nbd", "-a", "127.0.0.1", "-s", "9", "-n", "nqn.2024-01.io.nvmf.test:nbd"},
                                kLimit);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NBD is not available"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("connect"), std::string::npos) << r.err;
}

TEST(AttachFunctional, DetachRefusesOtherDevicesAndMissingUblk) {
  CommandResult r = run_command({nvmf::test::nvmf_binary(), "detach", "/dev/sda"}, kLimit);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not a device nvmf attach makes"), std::string::npos) << r.err;
  r = run_command({"/usr/bin/env", "NVMF_NBD_FAMILY=nvmf-test-none", nvmf::test::nvmf_binary(), "detach", "/dev/nbd0"},
                  kLimit);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NBD is not available"), std::string::npos) << r.err;
  nvmf::test::TempDir dir;
  r = run_command({"/usr/bin/env", "NVMF_UBLK_CONTROL=" + dir.file("none"), nvmf::test::nvmf_binary(), "detach",
                   "/dev/ublkb0"},
                  kLimit);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ublk is not available"), std::string::npos) << r.err;
}

TEST(AttachFunctional, ListAttachedShowsLiveServersAndDropsStaleOnes) {
  nvmf::test::TempDir dir;
  nlohmann::json live = {{"device", "/dev/ublkb4"}, {"kind", "ublk"}, {"dev_id", 4}, {"pid", getpid()},
                         {"transport", "tcp"}, {"traddr", "127.0.0.1"}, {"trsvcid", "4420"},
                         {"subnqn", "nqn.2024-01.io.nvmf.test:live"}, {"nsid", 2}};
  nlohmann::json stale = live;
  stale["device"] = "/dev/ublkb5";
  stale["dev_id"] = 5;
  stale["pid"] = 0x3ffffff0;  // above pid_max: no such process
  std::ofstream(dir.file("ublkb4.json")) << live.dump();
  std::ofstream(dir.file("ublkb5.json")) << stale.dump();
  CommandResult r = run_command({"/usr/bin/env", "NVMF_ATTACH_RUN_DIR=" + dir.path(), nvmf::test::nvmf_binary(),
                                 "list-attached", "-o", "json"},
                                kLimit);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["attached"].size(), 1u) << r.out;
  EXPECT_EQ(j["attached"][0]["device"], "/dev/ublkb4");
  EXPECT_EQ(j["attached"][0]["nsid"], 2);
  EXPECT_EQ(access(dir.file("ublkb5.json").c_str(), F_OK), -1);  // the stale entry is gone

  r = run_command({"/usr/bin/env", "NVMF_ATTACH_RUN_DIR=" + dir.path(), nvmf::test::nvmf_binary(), "list-attached"},
                  kLimit);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("/dev/ublkb4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nqn.2024-01.io.nvmf.test:live"), std::string::npos) << r.out;
}
