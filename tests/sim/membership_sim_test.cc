// Membership on the simulator with fixed seeds (issue: membership). A failing seed prints
// the command that replays it.
#include <gtest/gtest.h>

#include "expect_pass.h"
#include "sim/scenarios.h"

namespace cohort::sim {
namespace {

// 200 seeds of every membership scenario on 10 nodes: 1,000 runs with the checkers on.
class TenNodes : public ::testing::TestWithParam<const char*> {};
TEST_P(TenNodes, TwoHundredSeeds) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const auto r = RunScenario(GetParam(), 10, seed);
    ExpectPass(r);
    if (!r.passed) break;
  }
}
INSTANTIATE_TEST_SUITE_P(Membership, TenNodes,
                         ::testing::Values("form", "crash", "leave", "partition", "slow", "disks"));

class HundredNodes : public ::testing::TestWithParam<const char*> {};
TEST_P(HundredNodes, FixedSeeds) {
  for (uint64_t seed : {1, 2}) ExpectPass(RunScenario(GetParam(), 100, seed));
}
INSTANTIATE_TEST_SUITE_P(Membership, HundredNodes, ::testing::Values("form", "crash", "partition"));

TEST(MembershipLossTest, NoFalsePositivesAtFivePercentLoss) {
  for (uint64_t seed = 1; seed <= 10; ++seed) ExpectPass(RunScenario("mlossy", 10, seed));
}

TEST(MembershipBoundsTest, DetectionAndFailoverWithinStatedBounds) {
  for (uint64_t seed : {11, 12, 13}) {
    const auto r = RunScenario("crash", 20, seed);
    ExpectPass(r);
    EXPECT_LE(r.figures.at("detection_ms"), 500.0) << seed;
    EXPECT_LE(r.figures.at("failover_ms"), 600.0) << seed;
  }
}

TEST(MembershipReplayTest, SameSeedSameTrace) {
  const auto a = RunScenario("partition", 20, 5);
  const auto b = RunScenario("partition", 20, 5);
  EXPECT_EQ(a.trace_digest, b.trace_digest);
  EXPECT_EQ(a.figures, b.figures);
  EXPECT_NE(a.trace_digest, RunScenario("partition", 20, 6).trace_digest);
}

}  // namespace
}  // namespace cohort::sim
