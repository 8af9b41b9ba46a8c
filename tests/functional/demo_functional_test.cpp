// nvmf demo end to end: embedded target, initiator, verified I/O; it must exit 0 and print its figures.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/functional/process.hpp"

using namespace nvmf;

TEST(DemoFunctional, RunsVerifiedAndReportsFigures) {
  test::CommandResult r = test::run_command(
      {test::nvmf_binary(), "demo", "--size", "32", "--time", "2", "--output-format", "json"},
      std::chrono::milliseconds(60000));
  ASSERT_EQ(r.exit_code, 0) << "stdout:\n" << r.out << "\nstderr:\n" << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j.at("ok").get<bool>());
  ASSERT_EQ(j.at("phases").size(), 2u);
  EXPECT_GT(j.at("phases")[0].at("writes").get<std::uint64_t>(), 0u);
  EXPECT_GT(j.at("phases")[1].at("reads").get<std::uint64_t>(), 0u);
  EXPECT_EQ(j.at("verify_errors"), 0);
}
