// Stream placement on the simulator with fixed seeds (SPEC W2, M13): the production catalog,
// session table and placement with viewers arriving and leaving, nodes crashing and a disk
// failing; never a node over its capacity, never a session on a copy that cannot serve it.
// A failing seed prints the command that replays it.
#include "sim/streams_sim.h"

#include <gtest/gtest.h>

#include "base/test_seeds.h"
#include "expect_pass.h"
#include "sim/scenarios.h"

namespace cohort::sim {
namespace {

// 20 seeds of each on 50 nodes (5,000 sessions) and 3 on 150 (the sweep in scripts/test
// runs more; docs/benchmarks.md has 1,000 nodes).
class StreamScenarios : public ::testing::TestWithParam<const char*> {};
TEST_P(StreamScenarios, FiftyAndAHundredAndFiftyNodes) {
  for (uint64_t seed = 1; seed <= TestSeeds(20); ++seed) {
    const auto r = RunScenario(GetParam(), 50, seed);
    ExpectPass(r);
    if (!r.passed) return;
    EXPECT_LE(r.figures.at("max_over_avg"), 1.35) << "seed " << seed;
  }
  for (uint64_t seed = 1; seed <= 3; ++seed) ExpectPass(RunScenario(GetParam(), 150, seed));
}
INSTANTIATE_TEST_SUITE_P(Streams, StreamScenarios,
                         ::testing::Values("streams-place", "streams-fail"));

TEST(StreamsSimTest, ASeedReplaysExactly) {
  const auto a = RunScenario("streams-fail", 30, 5);
  const auto b = RunScenario("streams-fail", 30, 5);
  EXPECT_EQ(a.trace_digest, b.trace_digest);
  EXPECT_EQ(a.figures, b.figures);
  EXPECT_NE(a.trace_digest, RunScenario("streams-fail", 30, 6).trace_digest);
}

// The checker is not blind: a crash or a failed disk the supervisor has not yet acted on
// leaves sessions where they can no longer be served, and the checker names them.
TEST(StreamsSimTest, TheCheckerSeesSessionsLeftOnAFailedNodeOrDisk) {
  StreamsSimOptions o;
  o.nodes = 20;
  StreamsSim crashed(o);
  crashed.Arrive(1000);
  crashed.Check();
  ASSERT_TRUE(crashed.violations().empty());
  crashed.Crash(3);
  crashed.Check();
  ASSERT_FALSE(crashed.violations().empty());
  EXPECT_NE(crashed.violations()[0].find("which is down"), std::string::npos);

  StreamsSim disk(o);
  disk.Arrive(1000);
  for (NodeId n = 1; n <= 20; ++n) disk.FailDisk(n, true);
  disk.Check();
  ASSERT_FALSE(disk.violations().empty());
  EXPECT_NE(disk.violations()[0].find("disk-failed"), std::string::npos);
}

// Reassignment moves exactly the sessions of the crashed node, to nodes with room.
TEST(StreamsSimTest, ACrashMovesOnlyTheCrashedNodesSessions) {
  StreamsSimOptions o;
  o.nodes = 20;
  StreamsSim sim(o);
  sim.Arrive(2000);
  const size_t on_node = sim.table().nodes().at(7).ids.size();
  ASSERT_GT(on_node, 0u);
  sim.Crash(7);
  EXPECT_EQ(sim.Reassign(), on_node);
  EXPECT_EQ(sim.Unplaced(), 0u);
  const size_t before = sim.violations().size();
  sim.Check();
  EXPECT_EQ(sim.violations().size(), before);
  EXPECT_EQ(sim.Reassign(), 0u);
}

}  // namespace
}  // namespace cohort::sim
