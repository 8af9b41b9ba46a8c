// The README's C example (docs/examples/host_example.c) built the way an application would, with one
// `cc ... $(pkg-config --cflags --libs nvmf-host)` line against the build tree's uninstalled nvmf-host.pc, then
// run against a `nvmf target` process: it must connect, write, read back and exit 0.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/functional/process.hpp"
#include "tests/functional/target_fixture.hpp"

namespace {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

TEST(CExampleFunctional, BuildsWithPkgConfigAndRunsAgainstTheTarget) {
  const std::string source = env("NVMF_EXAMPLE_SRC"), pc_path = env("NVMF_PKG_CONFIG_PATH"),
                    libdir = env("NVMF_HOST_LIBDIR");
  ASSERT_FALSE(source.empty() || pc_path.empty() || libdir.empty()) << "run through meson test";

  nvmf::test::TempDir dir;
  const std::string binary = dir.file("host_example");
  auto build = nvmf::test::run_command(
      {"/usr/bin/env", "PKG_CONFIG_PATH=" + pc_path, "sh", "-c",
       "cc -Wall -Wextra -Werror " + env("NVMF_EXAMPLE_CFLAGS") + " '" + source +
           "' $(pkg-config --cflags --libs nvmf-host) -o '" + binary + "'"},
      std::chrono::seconds(120));
  ASSERT_EQ(build.exit_code, 0) << build.out << build.err;

  nvmf::test::TargetSpec spec;
  nvmf::test::SubsystemSpec s;
  s.nqn = "nqn.2024-01.io.nvmf.test:example";
  s.model = "example model";
  spec.subsystems = {s};
  nvmf::test::TargetProcess target;
  std::string error;
  ASSERT_TRUE(target.start(spec, &error)) << error;

  auto run = nvmf::test::run_command({"/usr/bin/env", "LD_LIBRARY_PATH=" + libdir, binary, target.endpoint().traddr,
                                      target.endpoint().trsvcid, s.nqn},
                                     std::chrono::seconds(60));
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err << target.log();
  EXPECT_NE(run.out.find("example model: namespace 1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("read back: hello from nvmf-host"), std::string::npos) << run.out;

  // Pointed at a port where nothing listens, it fails with a message, not a hang.
  auto refused = nvmf::test::run_command({"/usr/bin/env", "LD_LIBRARY_PATH=" + libdir, binary, "127.0.0.1", "1", s.nqn},
                                         std::chrono::seconds(30));
  EXPECT_FALSE(refused.timed_out);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("connect:"), std::string::npos) << refused.err;
}
