// The multipath chooser and statuses without a network: ANA ranks, which statuses move a command to another
// path, round-robin and least-queued among the best ANA rank, and policy names.
#include <gtest/gtest.h>

#include <vector>

#include "initiator/multipath_policy.hpp"

using namespace nvmf;
using namespace nvmf::initiator;

namespace {
std::vector<std::size_t> picks(PathChooser& chooser, const std::vector<PathCandidate>& paths, int count) {
  std::vector<std::size_t> out;
  for (int i = 0; i < count; ++i) out.push_back(chooser.choose(paths));
  return out;
}
}  // namespace

TEST(MultipathPolicy, AnaRanks) {
  EXPECT_EQ(ana_rank(NVME_ANA_STATE_OPTIMIZED), 2);
  EXPECT_EQ(ana_rank(NVME_ANA_STATE_NONOPTIMIZED), 1);
  EXPECT_EQ(ana_rank(NVME_ANA_STATE_INACCESSIBLE), 0);
  EXPECT_EQ(ana_rank(NVME_ANA_STATE_PERSISTENT_LOSS), 0);
  EXPECT_EQ(ana_rank(NVME_ANA_STATE_CHANGE), 0);
  EXPECT_EQ(ana_rank(0x7), 0);  // reserved
}

TEST(MultipathPolicy, PathStatusesMoveToAnotherPath) {
  using nvme::Status;
  EXPECT_TRUE(retry_on_other_path(Status::make(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE)));
  EXPECT_TRUE(retry_on_other_path(Status::make(NVME_SCT_PATH, NVME_SC_ANA_PERSISTENT_LOSS)));
  EXPECT_TRUE(retry_on_other_path(Status::make(NVME_SCT_PATH, NVME_SC_ANA_TRANSITION)));
  EXPECT_TRUE(retry_on_other_path(Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR)));
  // The host's own statuses for a lost path say nothing about the command, DNR or not.
  EXPECT_TRUE(retry_on_other_path(Status::make(NVME_SCT_PATH, NVME_SC_HOST_PATH_ERROR).with_dnr()));
  EXPECT_TRUE(retry_on_other_path(Status::make(NVME_SCT_PATH, NVME_SC_CMD_ABORTED_BY_HOST).with_dnr()));
  // A controller's path status with DNR: not retried anywhere.
  EXPECT_FALSE(retry_on_other_path(Status::make(NVME_SCT_PATH, NVME_SC_ANA_INACCESSIBLE).with_dnr()));
  EXPECT_FALSE(retry_on_other_path(Status()));
  EXPECT_FALSE(retry_on_other_path(Status::generic(NVME_SC_LBA_RANGE)));
  EXPECT_FALSE(retry_on_other_path(Status::make(NVME_SCT_MEDIA, NVME_SC_READ_ERROR)));
}

TEST(MultipathPolicy, RoundRobinTakesTurnsAmongTheBestRank) {
  PathChooser chooser(PathPolicy::round_robin);
  // Outstanding counts do not matter to round-robin.
  EXPECT_EQ(picks(chooser, {{2, 9}, {2, 0}, {2, 5}}, 6), (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
  // A non-optimized path is used only when no optimized one is.
  PathChooser second(PathPolicy::round_robin);
  EXPECT_EQ(picks(second, {{1, 0}, {2, 0}, {1, 0}, {2, 0}}, 4), (std::vector<std::size_t>{1, 3, 1, 3}));
  EXPECT_EQ(picks(second, {{1, 0}, {0, 0}, {1, 0}, {0, 0}}, 3), (std::vector<std::size_t>{0, 2, 0}));
}

TEST(MultipathPolicy, NoUsablePathGivesSize) {
  PathChooser chooser;
  EXPECT_EQ(chooser.choose(std::vector<PathCandidate>{{0, 0}, {0, 0}}), 2u);
  EXPECT_EQ(chooser.choose(std::vector<PathCandidate>{}), 0u);
}

TEST(MultipathPolicy, LeastQueuedPicksTheFewestOutstanding) {
  PathChooser chooser(PathPolicy::least_queued);
  EXPECT_EQ(chooser.choose(std::vector<PathCandidate>{{2, 5}, {2, 1}, {2, 3}}), 1u);
  // ANA rank first: an idle non-optimized path loses to a busy optimized one.
  EXPECT_EQ(chooser.choose(std::vector<PathCandidate>{{1, 0}, {2, 30}, {0, 0}}), 1u);
  // Unusable paths never count, however idle.
  EXPECT_EQ(chooser.choose(std::vector<PathCandidate>{{0, 0}, {2, 7}, {2, 8}}), 1u);
}

TEST(MultipathPolicy, LeastQueuedTiesTakeTurns) {
  PathChooser chooser(PathPolicy::least_queued);
  EXPECT_EQ(picks(chooser, {{2, 4}, {2, 4}, {2, 4}}, 4), (std::vector<std::size_t>{0, 1, 2, 0}));
  // A tie among the least queued only: path 1 never, 0 and 2 in turn.
  EXPECT_EQ(picks(chooser, {{2, 1}, {2, 6}, {2, 1}}, 4), (std::vector<std::size_t>{2, 0, 2, 0}));
}

TEST(MultipathPolicy, PolicyNames) {
  EXPECT_EQ(parse_path_policy("round-robin"), PathPolicy::round_robin);
  EXPECT_EQ(parse_path_policy("least-queued"), PathPolicy::least_queued);
  EXPECT_FALSE(parse_path_policy("queue-depth").has_value());
  EXPECT_STREQ(to_string(PathPolicy::least_queued), "least-queued");
  EXPECT_STREQ(to_string(PathPolicy::round_robin), "round-robin");
}
