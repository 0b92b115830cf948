// Group Services on the simulator with fixed seeds (SPEC G1–G3): clients join, propose, vote
// and die while coordinators crash, partitions cut the registry off and its answers are lost;
// GroupsSim's checkers (agreement with the registry, order, one outcome per request, the
// outcome as recorded) run on every event, and every request is answered once the faults
// stop. A failing seed prints the command that replays it.
#include "sim/groups_sim.h"

#include <gtest/gtest.h>

#include "base/test_seeds.h"
#include "expect_pass.h"
#include "sim/scenarios.h"

namespace cohort::sim {
namespace {

constexpr const char* kScenarios[] = {"groups", "gcrash", "gpartition", "gregistry"};

// 40 seeds of every scenario on 5 nodes and 10 on 9 (the sweep in scripts/test runs 300 of
// each at 16 nodes; bench/sim_sweep.sh ran 10,000; under the sanitizers, 30 times slower,
// a sixth of the seeds: base/test_seeds.h).
class GroupScenarios : public ::testing::TestWithParam<const char*> {};
TEST_P(GroupScenarios, FiveAndNineNodes) {
  for (uint64_t seed = 1; seed <= TestSeeds(40); ++seed) {
    const auto r = RunScenario(GetParam(), 5, seed);
    ExpectPass(r);
    if (!r.passed) return;
  }
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    const auto r = RunScenario(GetParam(), 9, seed);
    ExpectPass(r);
    if (!r.passed) return;
  }
}
INSTANTIATE_TEST_SUITE_P(Groups, GroupScenarios, ::testing::ValuesIn(kScenarios));

TEST(GroupsSimTest, ASeedReplaysExactly) {
  const auto a = RunScenario("gcrash", 6, 11);
  const auto b = RunScenario("gcrash", 6, 11);
  EXPECT_EQ(a.trace_digest, b.trace_digest);
  EXPECT_EQ(a.figures, b.figures);
}

// The scenarios do work: transitions commit and abort (a run where nothing happens would
// pass every checker).
TEST(GroupsSimTest, TransitionsCommitAndAbort) {
  const auto r = RunScenario("groups", 5, 3);
  ExpectPass(r);
  EXPECT_GE(r.figures.at("commits"), 20);
  EXPECT_GE(r.figures.at("aborts"), 2);
}

// Two coordinators at once, neither able to reach the other: the minority's cannot write the
// registry, so its side decides nothing (the checkers would see a second decision); the
// majority's goes on deciding, and after the partition heals everything settles.
TEST(GroupsSimTest, TheMajoritysCoordinatorGoesOnDuringAPartition) {
  GroupsSimOptions o;
  o.nodes = 5;
  o.seed = 4;
  GroupsSim sim(o);
  sim.StartAll(Duration::Millis(20));
  sim.SetProposing(true);
  sim.RunFor(Duration::Millis(500));
  sim.Partition({1, 2});  // node 1 coordinates its side; node 3 the majority's
  sim.RunFor(Duration::Millis(600));
  const uint64_t before = sim.commits();
  sim.RunFor(Duration::Seconds(1));
  EXPECT_GT(sim.commits(), before);  // the majority's side goes on
  EXPECT_TRUE(sim.violations().empty()) << sim.violations().front();
  sim.Partition({});
  sim.SetProposing(false);
  std::string why;
  EXPECT_TRUE(sim.RunUntilTrue([&] { return sim.Quiet(&why); }, Duration::Seconds(10))) << why;
  EXPECT_TRUE(sim.violations().empty());
}

}  // namespace
}  // namespace cohort::sim
