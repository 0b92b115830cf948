#include "sim/scenarios.h"

#include <algorithm>
#include <cmath>

#include "sim/distribution_sim.h"
#include "sim/groups_scenarios.h"
#include "sim/hierarchy_scenarios.h"
#include "sim/liveness_scenarios.h"
#include "sim/membership_scenarios.h"
#include "sim/network.h"
#include "sim/resources_scenarios.h"
#include "sim/streams_scenarios.h"

namespace cohort::sim {
namespace {

constexpr Duration kConvergeLimit = Duration::Seconds(120);

SimOptions Defaults(int nodes, uint64_t seed) {
  SimOptions o;
  o.nodes = nodes;
  o.seed = seed;
  o.adapters = 2;
  o.seeds = std::min(nodes, 2);
  return o;
}

class Run {
 public:
  Run(std::string name, int nodes, uint64_t seed) {
    r_.scenario = std::move(name);
    r_.nodes = nodes;
    r_.seed = seed;
  }
  void Check(bool ok, const std::string& what) {
    if (!ok) {
      r_.passed = false;
      r_.failures.push_back(what);
    }
  }
  void Figure(const std::string& name, double v) { r_.figures[name] = v; }
  ScenarioResult Finish(const SimCluster& c) {
    r_.trace_digest = c.trace_digest();
    r_.delivered = c.delivered();
    r_.dropped = c.dropped();
    return r_;
  }
  bool Converge(SimCluster& c, const std::string& label) {
    const Instant start = c.now();
    const bool ok = c.RunUntilTrue([&] { return c.TablesConverged(); }, kConvergeLimit);
    Check(ok, label + ": address tables did not converge within " +
                  std::to_string(kConvergeLimit.millis() / 1000) + " s");
    Figure(label + "_ms", static_cast<double>((c.now() - start).millis()));
    return ok;
  }

 private:
  ScenarioResult r_;
};

ScenarioResult Converge(int nodes, uint64_t seed) {
  Run run("converge", nodes, seed);
  SimCluster c(Defaults(nodes, seed));
  run.Converge(c, "converge");
  return run.Finish(c);
}

// Node 1 echoes node 2 every 20 ms; node 2's primary adapter is cut, then healed.
ScenarioResult Failover(int nodes, uint64_t seed) {
  Run run("failover", nodes, seed);
  SimCluster c(Defaults(nodes, seed));
  if (!run.Converge(c, "converge")) return run.Finish(c);
  const Endpoint primary = c.AddressOf(2, 0), alternate = c.AddressOf(2, 1);
  auto echo_for = [&](Duration d) {
    for (Instant end = c.now() + d; c.now() < end;) {
      c.Echo(1, 2);
      c.RunFor(Duration::Millis(20));
    }
    c.RunFor(Duration::Millis(500));  // let the last ones finish
  };
  echo_for(Duration::Millis(200));
  const size_t before_cut = c.results(1).size();
  const Instant cut_at = c.now();
  c.CutAdapter(2, 0);
  echo_for(Duration::Seconds(2));
  const auto& results = c.results(1);
  size_t failed = 0;
  double switch_ms = -1;  // from the cut to the first reply through the alternate
  for (size_t i = before_cut; i < results.size(); ++i) {
    failed += !results[i].ok;
    if (switch_ms < 0 && results[i].ok && results[i].answered_by == alternate) {
      switch_ms = static_cast<double>((results[i].finished - cut_at).micros()) / 1000.0;
    }
  }
  run.Check(failed == 0,
            "echo requests failed after the primary was cut: " + std::to_string(failed));
  run.Check(switch_ms >= 0, "no reply ever came from the alternate address");
  run.Figure("switch_ms", switch_ms);
  run.Figure("failovers", static_cast<double>(c.core(1).metrics().failovers));

  c.HealAdapter(2, 0);
  const bool back = c.RunUntilTrue(
      [&] {
        for (const auto& v : c.core(1).View()) {
          if (v.id == 2) return v.addresses[0].preferred && v.addresses[0].reachable;
        }
        return false;
      },
      Duration::Seconds(5));
  run.Check(back, "the healed primary did not become preferred again within 5 s");
  const size_t before_heal = c.results(1).size();
  echo_for(Duration::Millis(200));
  bool via_primary = c.results(1).size() > before_heal;
  for (size_t i = before_heal; i < c.results(1).size(); ++i) {
    via_primary &= c.results(1)[i].ok && c.results(1)[i].answered_by == primary;
  }
  run.Check(via_primary, "after healing, echo replies did not come from the primary");
  return run.Finish(c);
}

constexpr double kLossyLoss = 0.2;

struct EchoTally {
  size_t sent = 0;
  size_t total = 0;  // finished
  size_t ok = 0;
  double expected = 0;  // sum over the echoes sent of each one's chance of success
  double variance = 0;  // of the number of successes, echoes taken as independent
};

// 40 rounds of 5 echoes between random nodes, 50 ms apart, then a second for the last ones.
// An echo gets one attempt per address plus a retry (transport.md, T3), each through two
// hops that lose `loss` each: three attempts when both primaries work, and at least two when
// either end's primary is cut (the cut costs one attempt), so each echo succeeds with
// 1 - (1 - (1 - loss)^2)^attempts, or a little more when the cut was already known.
EchoTally RandomEchoes(SimCluster& c, Prng& prng, const std::set<NodeId>& cut, double loss) {
  const auto ids = c.ids();
  std::map<NodeId, size_t> before;
  for (NodeId id : ids) before[id] = c.results(id).size();
  EchoTally t;
  const double attempt_fails = 1 - (1 - loss) * (1 - loss);
  for (int round = 0; round < 40; ++round) {
    for (int k = 0; k < 5; ++k) {
      const NodeId from = ids[prng.Below(ids.size())];
      NodeId to = ids[prng.Below(ids.size())];
      if (to == from) continue;
      c.Echo(from, to);
      const bool cut_end = cut.count(from) || cut.count(to);
      const double p = 1 - std::pow(attempt_fails, cut_end ? 2 : 3);
      ++t.sent;
      t.expected += p;
      t.variance += p * (1 - p);
    }
    c.RunFor(Duration::Millis(50));
  }
  c.RunFor(Duration::Seconds(1));
  for (NodeId id : ids) {
    for (size_t i = before[id]; i < c.results(id).size(); ++i) {
      ++t.total;
      t.ok += c.results(id)[i].ok;
    }
  }
  return t;
}

// 20% loss, a partition into halves that heals, and a tenth of the nodes with a cut primary:
// tables still converge and requests still get through by failing over.
ScenarioResult Lossy(int nodes, uint64_t seed) {
  Run run("lossy", nodes, seed);
  SimOptions o = Defaults(nodes, seed);
  o.loss = kLossyLoss;
  o.duplicate = 0.02;
  SimCluster c(o);
  Prng prng(seed ^ 0x105511);
  std::set<NodeId> half;
  for (NodeId id : c.ids()) {
    if (prng.Chance(0.5)) half.insert(id);
  }
  c.Partition(half);
  c.RunFor(Duration::Seconds(5));
  c.HealPartition();
  if (!run.Converge(c, "converge")) return run.Finish(c);

  std::set<NodeId> cut;
  for (NodeId id : c.ids()) {
    if (prng.Chance(0.1) || id == 2) {
      c.CutAdapter(id, 0);
      cut.insert(id);
    }
  }
  const EchoTally t = RandomEchoes(c, prng, cut, kLossyLoss);
  const double rate = t.total ? static_cast<double>(t.ok) / static_cast<double>(t.total) : 0;
  const double sent = static_cast<double>(std::max<size_t>(t.sent, 1));
  const double expected = t.expected / sent;
  // At least the expected mean less five standard deviations: about 1e-5 per seed for a
  // binomial count of ~200 echoes, so a 10,000-seed sweep should see no false failure.
  const double floor = expected - 5 * std::sqrt(t.variance) / sent;
  run.Check(t.total == t.sent, "some echo requests never finished");
  run.Check(rate >= floor, "echo success rate " + std::to_string(rate) + " < " +
                               std::to_string(floor) + " (expected " + std::to_string(expected) +
                               ") at 20% loss");
  run.Figure("echo_success_rate", rate);
  run.Figure("echo_success_expected", expected);
  run.Figure("primaries_cut", static_cast<double>(cut.size()));
  uint64_t failovers = 0;
  for (NodeId id : c.ids()) failovers += c.core(id).metrics().failovers;
  run.Figure("failovers", static_cast<double>(failovers));
  return run.Finish(c);
}

// A third of the nodes crash; some restart with a new incarnation; tables converge on the
// new entries.
ScenarioResult Churn(int nodes, uint64_t seed) {
  Run run("churn", nodes, seed);
  SimCluster c(Defaults(nodes, seed));
  if (!run.Converge(c, "converge")) return run.Finish(c);
  Prng prng(seed ^ 0xc4c4);
  std::vector<NodeId> crashed;
  for (NodeId id : c.ids()) {
    if (id > 2 && prng.Chance(0.33)) {
      c.Crash(id);
      crashed.push_back(id);
    }
  }
  c.RunFor(Duration::Seconds(2));
  for (NodeId id : crashed) {
    if (prng.Chance(0.5)) c.Restart(id);
  }
  run.Converge(c, "reconverge");
  run.Figure("crashed", static_cast<double>(crashed.size()));
  return run.Finish(c);
}

}  // namespace

const std::map<std::string, std::string>& Scenarios() {
  static const std::map<std::string, std::string> kAll = {
      {"converge", "nodes start knowing only the seeds; address tables become identical"},
      {"failover", "node 2's primary adapter is cut and healed while node 1 sends requests"},
      {"lossy",
       "20% loss, a healed partition and cut primaries; tables converge, requests "
       "fail over"},
      {"churn", "a third of the nodes crash, half of those restart; tables reconverge"},
  };
  static const std::map<std::string, std::string> kWithMembership = [] {
    auto all = kAll;
    AddMembershipScenarios(all);
    AddDistributionScenarios(all);
    AddLivenessScenarios(all);
    AddGroupsScenarios(all);
    AddResourcesScenarios(all);
    AddHierarchyScenarios(all);
    AddStreamsScenarios(all);
    return all;
  }();
  return kWithMembership;
}

ScenarioResult RunScenario(const std::string& name, int nodes, uint64_t seed) {
  CHECK(Scenarios().count(name) && nodes >= 2);
  if (name == "converge") return Converge(nodes, seed);
  if (name == "failover") return Failover(nodes, seed);
  if (name == "lossy") return Lossy(nodes, seed);
  if (auto r = RunMembershipScenario(name, nodes, seed)) return *r;
  if (auto r = RunDistributionScenario(name, nodes, seed)) return *r;
  if (auto r = RunLivenessScenario(name, nodes, seed)) return *r;
  if (auto r = RunGroupsScenario(name, nodes, seed)) return *r;
  if (auto r = RunResourcesScenario(name, nodes, seed)) return *r;
  if (auto r = RunHierarchyScenario(name, nodes, seed)) return *r;
  if (auto r = RunStreamsScenario(name, nodes, seed)) return *r;
  return Churn(nodes, seed);
}

}  // namespace cohort::sim
