// A gtest suite whose tests share one target (an `nvmf target` process, or an EmbeddedTarget in the test's own
// process): the suite's SetUpTestSuite builds a TargetSpec and calls start_shared_target(). A test fails at once when the target did not start (with the reason), and a
// failed test prints the target's log.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "tests/functional/target_fixture.hpp"

namespace nvmf::test {

template <class TargetType = TargetProcess>
class SharedTargetTest : public ::testing::Test {
 protected:
  static void start_shared_target(const TargetSpec& spec) {
    target_ = std::make_unique<TargetType>();
    std::string error;
    if (!target_->start(spec, &error)) startup_error_ = error.empty() ? "the target did not start" : error;
  }
  static void TearDownTestSuite() {
    target_.reset();
    startup_error_.clear();
  }
  void SetUp() override { ASSERT_TRUE(startup_error_.empty()) << startup_error_; }
  void TearDown() override {
    if (HasFailure() && target_) std::fprintf(stderr, "---- target log ----\n%s\n", target_->log().c_str());
  }

  static inline std::unique_ptr<TargetType> target_;
  static inline std::string startup_error_;
};

}  // namespace nvmf::test
