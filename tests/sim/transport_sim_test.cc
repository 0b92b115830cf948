// Simulator tests with fixed seeds: the production TransportCore on SimCluster.
// A failing seed prints its replay command.
#include <gtest/gtest.h>

#include "expect_pass.h"
#include "sim/network.h"
#include "sim/scenarios.h"

namespace cohort::sim {
namespace {

class SeededTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(SeededTest, HundredNodesConverge) { ExpectPass(RunScenario("converge", 100, GetParam())); }
TEST_P(SeededTest, FailoverAndReturn) { ExpectPass(RunScenario("failover", 5, GetParam())); }
TEST_P(SeededTest, HundredNodesUnderLossAndPartitions) {
  ExpectPass(RunScenario("lossy", 100, GetParam()));
}
TEST_P(SeededTest, ChurnReconverges) { ExpectPass(RunScenario("churn", 30, GetParam())); }

INSTANTIATE_TEST_SUITE_P(FixedSeeds, SeededTest, ::testing::Values(1, 2, 3, 42, 1234));

TEST(SimReplayTest, SameSeedSameTrace) {
  const auto a = RunScenario("lossy", 30, 77);
  const auto b = RunScenario("lossy", 30, 77);
  const auto c = RunScenario("lossy", 30, 78);
  EXPECT_EQ(a.trace_digest, b.trace_digest);
  EXPECT_EQ(a.figures, b.figures);
  EXPECT_NE(a.trace_digest, c.trace_digest);
}

// Issue 17: at 20% loss with cut primaries these seeds fell under the old fixed 0.75 echo
// success threshold (14 of 100 seeds at 16 nodes): a retry went to the silent primary, and
// the check ignored what cut primaries cost. Now the retry takes the failover path and the
// check compares with the expected rate (see RandomEchoes in src/sim/scenarios.cc).
TEST(SimLossyTest, EchoRetriesTakeTheFailoverPath) {
  for (uint64_t seed : {4, 5, 14, 18, 22, 33, 48, 55, 67, 73, 78, 79, 93, 98}) {
    const auto r = RunScenario("lossy", 16, seed);
    ExpectPass(r);
    EXPECT_GE(r.figures.at("echo_success_rate"), 0.8) << "seed " << seed;
  }
}

TEST(SimFailoverTest, SwitchWithinThreeRequestTimeouts) {
  for (uint64_t seed : {5, 6, 7}) {
    const auto r = RunScenario("failover", 3, seed);
    ExpectPass(r);
    EXPECT_LE(r.figures.at("switch_ms"), 300.0) << "seed " << seed;
  }
}

}  // namespace
}  // namespace cohort::sim
