// Liveness on the simulator with fixed seeds (SPEC L1): every node's matrix against the
// simulator's ground truth. A failing seed prints the command that replays it.
#include "sim/liveness_sim.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "base/test_seeds.h"
#include "expect_pass.h"
#include "sim/scenarios.h"

namespace cohort::sim {
namespace {

constexpr const char* kScenarios[] = {"lsettle", "lcut",   "lswitch",  "loneway",
                                      "lflap",   "lcrash", "lswitch3", "lloss"};

// 10 seeds of every liveness scenario on 12 nodes, two networks (the sweep in scripts/test
// runs 300 of each at 16 nodes; under the sanitizers, a sixth of the seeds: base/test_seeds.h).
class TwelveNodes : public ::testing::TestWithParam<const char*> {};
TEST_P(TwelveNodes, TenSeeds) {
  for (uint64_t seed = 1; seed <= TestSeeds(10); ++seed) {
    const auto r = RunScenario(GetParam(), 12, seed);
    ExpectPass(r);
    if (!r.passed) break;
  }
}
INSTANTIATE_TEST_SUITE_P(Liveness, TwelveNodes, ::testing::ValuesIn(kScenarios));

// Thirty nodes: a rotation of 28 periods (bench/liveness_bench.py runs 50).
TEST(LivenessSimTest, ThirtyNodesOneWay) { ExpectPass(RunScenario("loneway", 30, 1)); }

TEST(LivenessSimTest, ASeedReplaysExactly) {
  const auto a = RunScenario("lflap", 10, 7);
  const auto b = RunScenario("lflap", 10, 7);
  EXPECT_EQ(a.trace_digest, b.trace_digest);
  EXPECT_EQ(a.figures, b.figures);
}

// Alerts: after a switch fails, a cut or a crash, the rest of the affected paths are judged in
// periods, not a rotation (28 periods at 30 nodes). Virtual time, so the bound is exact; the
// margin covers the ring's detection (4 periods), the row and the alert's grace (5).
TEST(LivenessSimTest, AChangeIsSettledEverywhereInPeriodsNotARotation) {
  for (const auto& [scenario, figure] :
       std::vector<std::pair<const char*, const char*>>{{"lswitch", "switch_settle_ms"},
                                                        {"lcut", "cut_settle_ms"},
                                                        {"lcrash", "crash_settle_ms"}}) {
    const auto r = RunScenario(scenario, 30, 2);
    ExpectPass(r);
    ASSERT_TRUE(r.figures.count(figure)) << scenario;
    EXPECT_LE(r.figures.at(figure), 1500) << scenario;
  }
}

// A switch failure silences every node's adapter on it: each reports the network's addresses
// unheard (its traffic leaves) 1.5 periods after the last heartbeat, before any path is judged.
TEST(LivenessSimTest, TrafficLeavesAFailedSwitchAfterItsSilence) {
  const auto r = RunScenario("lswitch", 30, 2);
  ExpectPass(r);
  ASSERT_TRUE(r.figures.count("switch_traffic_left_ms"));
  EXPECT_LE(r.figures.at("switch_traffic_left_ms"), 200);
}

// Under 2% loss no check finds a wrong entry, on a network too large for alerts as well:
// there, silence once probed every path into the adapter at once, and a path whose probes
// were all lost was marked down (1.5% of the checks at 100 nodes, seed 1).
TEST(LivenessSimTest, LossMakesNoWrongEntryAtAHundredNodes) {
  const auto r = RunScenario("lloss", 100, 1);
  ExpectPass(r);
  ASSERT_TRUE(r.figures.count("checks_with_a_wrong_entry_pct"));
  EXPECT_EQ(r.figures.at("checks_with_a_wrong_entry_pct"), 0.0);
}

// Three networks: one switch fails while an adapter on another is cut; the third carries
// the rows. Every node's matrix is the truth within two rotations.
TEST(LivenessSimTest, ThreeNetworksWithASwitchDownAndAnAdapterCut) {
  LivenessSimOptions o;
  o.nodes = 20;
  o.networks = 3;
  o.seed = 3;
  LivenessSim sim(o);
  sim.StartAll(Duration::Millis(100));
  sim.RunFor(Duration::Millis(101));
  auto wrong = [&] {
    size_t n = 0;
    for (NodeId id : sim.live()) n += sim.WrongEntries(id);
    return n;
  };
  const Duration bound = Duration::Millis(100) * 18 * 2 + Duration::Millis(500);
  ASSERT_TRUE(sim.RunUntilTrue([&] { return wrong() == 0; }, bound, Duration::Millis(50)));
  sim.FailNetwork(3, true);
  sim.CutAdapter(5, 1, true);
  EXPECT_TRUE(sim.RunUntilTrue([&] { return wrong() == 0; }, bound, Duration::Millis(50)))
      << wrong() << " wrong entries";
  // Node 5 still reaches every node over network 2: its paths there stay up.
  for (NodeId other = 1; other <= 20; ++other) {
    if (other == 5) continue;
    EXPECT_TRUE(sim.PathSettled(5, other, 2)) << other;
  }
}

}  // namespace
}  // namespace cohort::sim
