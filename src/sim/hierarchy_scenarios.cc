// Hierarchy scenarios (M14) on HierarchySim. Figures are virtual-time milliseconds, and
// bytes per second per daemon; the measured values are in docs/design/hierarchy.md.
#include "sim/hierarchy_scenarios.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "sim/hierarchy_sim.h"

namespace cohort::sim {
namespace {

using Cluster = HierarchySim::Cluster;

const std::map<std::string, std::string>& Described() {
  static const std::map<std::string, std::string> kAll = {
      {"hform", "a hierarchy forms level by level; the root's aggregate counts every daemon"},
      {"hleaf", "a leaf daemon dies: its sub-cluster marks it, the root's aggregate drops it"},
      {"htakeover",
       "a sub-cluster's supervisor dies: its successor takes the node over at the parent "
       "(a new incarnation, no failure)"},
      {"hsubcluster", "every daemon of a sub-cluster dies: its node fails at the parent"},
      {"hsubtree", "every daemon under one of the root's nodes dies: that node fails at the root"},
      {"hdeep",
       "the daemon standing for a cluster at every level below the root dies: each level "
       "takes its node over"},
      {"hroot", "the daemon supervising every level dies: every level recovers"},
      {"hlossy",
       "2% loss at every level: a sub-cluster's supervisor and then a leaf die; no false "
       "failure, the root's aggregate exact again"},
  };
  return kAll;
}

class HRun {
 public:
  HRun(const std::string& name, const std::vector<int>& shape, uint64_t seed, double loss = 0) {
    HierarchySimOptions o;
    o.shape = shape;
    o.seed = seed;
    o.loss = loss;
    sim_ = std::make_unique<HierarchySim>(o);
    r_.scenario = name;
    r_.nodes = sim_->daemons();
    r_.seed = seed;
    r_.figures["levels"] = sim_->levels();
  }
  HierarchySim& sim() { return *sim_; }
  void Check(bool ok, const std::string& what) {
    if (!ok) {
      r_.passed = false;
      r_.failures.push_back(what);
    }
  }
  void Figure(const std::string& name, double v) { r_.figures[name] = v; }
  bool Measure(const std::string& name, const std::function<bool()>& done, Duration limit) {
    const Instant start = sim_->now();
    const bool ok = sim_->RunUntilTrue(done, limit);
    Figure(name, static_cast<double>((sim_->now() - start).micros()) / 1000.0);
    Check(ok, name + ": not reached within " + std::to_string(limit.millis()) + " ms");
    return ok;
  }
  // The root's aggregate counts every daemon, and the live ones as up.
  bool RootCounts() const {
    const auto a = sim_->RootAggregate();
    const auto t = sim_->Truth();
    return a && a->members == t.members && a->members_up == t.members_up;
  }
  bool RootExact() const {
    const auto a = sim_->RootAggregate();
    return a && *a == sim_->Truth();
  }
  bool Form() {
    sim_->StartAll(Duration::Millis(200));
    // Each level's figure counts from the start (the levels below form first).
    const Instant start = sim_->now();
    for (int level = 0; level < sim_->levels(); ++level) {
      const bool ok =
          sim_->RunUntilTrue([&] { return sim_->Stable(level); }, Duration::Seconds(60));
      Figure("formed_level" + std::to_string(level) + "_ms",
             static_cast<double>((sim_->now() - start).micros()) / 1000.0);
      if (!ok) {
        Check(false, "level " + std::to_string(level) + " not formed: " + sim_->Unstable());
        return false;
      }
    }
    if (!Measure(
            "root_aggregate_exact_ms", [&] { return sim_->Stable() && RootExact(); },
            Duration::Seconds(30))) {
      return false;
    }
    return Views(start, "views_ms");
  }
  // Every leaf member shows the root as its supervisor has it now: `figure` from `since`.
  bool Views(Instant since, const std::string& figure) {
    const bool ok =
        sim_->RunUntilTrue([&] { return sim_->ViewsBehind() == 0; }, Duration::Seconds(30));
    Figure(figure, static_cast<double>((sim_->now() - since).micros()) / 1000.0);
    Check(ok, figure + ": " + std::to_string(sim_->ViewsBehind()) +
                  " leaf members never showed the root as it is");
    return ok;
  }
  // Idle traffic per daemon over `window`: mean and most, wire overhead included; and the
  // mean as the daemon's cohort_transport_bytes_sent_total counts it (sealed datagrams,
  // without the IP and UDP headers).
  void Traffic(Duration window) {
    const auto before = sim_->bytes_sent();
    const auto datagrams_before = sim_->datagrams_sent();
    sim_->RunFor(window);
    const auto& after = sim_->bytes_sent();
    const auto& datagrams_after = sim_->datagrams_sent();
    const double seconds = static_cast<double>(window.millis()) / 1e3;
    double total = 0, sealed = 0, most = 0;
    int counted = 0;
    for (size_t d = 0; d < after.size(); ++d) {
      if (!sim_->alive(static_cast<int>(d))) continue;
      const double rate = static_cast<double>(after[d] - before[d]) / seconds;
      const double headers =
          static_cast<double>((datagrams_after[d] - datagrams_before[d]) * kIpUdpHeaders);
      total += rate;
      sealed += rate - headers / seconds;
      most = std::max(most, rate);
      ++counted;
    }
    Figure("idle_bytes_per_s_mean", counted ? total / counted : 0);
    Figure("idle_sealed_bytes_per_s_mean", counted ? sealed / counted : 0);
    Figure("idle_bytes_per_s_max", most);
  }
  // After a failure at `at`: the time until the root's aggregate counts it (within
  // `limit`, else `never`), then until every level is stable and the root's aggregate exact.
  void Settle(Instant at, Duration limit, const std::string& never,
              const std::string& prefix = "") {
    sim_->RunUntilTrue([&] { return RootCounts(); }, limit);
    Figure(prefix + "root_aggregate_ms", static_cast<double>((sim_->now() - at).micros()) / 1000.0);
    Check(RootCounts(), never);
    if (!Measure(
            prefix + "settled_ms", [&] { return sim_->Stable() && RootExact(); },
            Duration::Seconds(30))) {
      Check(false, "not stable: " + sim_->Unstable());
    }
  }
  ScenarioResult Finish() {
    for (const auto& v : sim_->violations()) Check(false, v);
    Figure("parent_supervisor_marked_failed", static_cast<double>(sim_->supervisor_nodes_failed()));
    r_.trace_digest = sim_->trace_digest();
    r_.delivered = sim_->delivered();
    r_.dropped = sim_->dropped();
    return r_;
  }

 private:
  ScenarioResult r_;
  std::unique_ptr<HierarchySim> sim_;
};

// A leaf cluster chosen by the seed, never the root's own line (cluster 0 holds the daemon
// supervising every level).
Cluster SomeLeafCluster(HierarchySim& sim, Prng& prng) {
  const int n = sim.clusters(0);
  return Cluster{0, n == 1 ? 0 : 1 + static_cast<int>(prng.Below(static_cast<uint64_t>(n - 1)))};
}

ScenarioResult Form(HRun& run) {
  if (run.Form()) run.Traffic(Duration::Seconds(10));
  return run.Finish();
}

ScenarioResult Leaf(HRun& run, Prng& prng) {
  if (!run.Form()) return run.Finish();
  HierarchySim& sim = run.sim();
  const Cluster c = SomeLeafCluster(sim, prng);
  const int sup = sim.SupervisorDaemon(c);
  int victim =
      sim.FirstDaemon(c) + static_cast<int>(prng.Below(static_cast<uint64_t>(sim.DaemonsPer(0))));
  if (victim == sup)
    victim = sim.FirstDaemon(c) + (victim - sim.FirstDaemon(c) + 1) % sim.DaemonsPer(0);
  sim.Crash(victim);
  const Instant at = sim.now();
  run.Measure(
      "leaf_detect_ms", [&] { return sim.LeafMarkedFailed(victim); }, Duration::Seconds(5));
  run.Settle(at, Duration::Seconds(10), "the root's aggregate never counted the dead leaf");
  run.Views(at, "views_ms");  // the root's new figures, sent down to every leaf
  return run.Finish();
}

ScenarioResult Takeover(HRun& run, Prng& prng) {
  if (!run.Form()) return run.Finish();
  HierarchySim& sim = run.sim();
  const Cluster c = SomeLeafCluster(sim, prng);
  const Incarnation before = sim.SlotIncarnation(c);
  sim.Crash(sim.SupervisorDaemon(c));
  const Instant at = sim.now();
  run.Measure(
      "takeover_ms",
      [&] {
        const auto m = sim.AtParent(c);
        return m && m->state == membership::MemberState::kUp && m->incarnation > before &&
               m->incarnation == sim.SlotIncarnation(c);
      },
      Duration::Seconds(10));
  run.Settle(at, Duration::Seconds(10), "the root's aggregate never counted the dead supervisor");
  return run.Finish();
}

// Every daemon under `c` dies: `figure` times until `c`'s node is failed at its parent.
ScenarioResult KillSubtree(HRun& run, Cluster c, const std::string& figure, Duration limit,
                           const std::string& never) {
  HierarchySim& sim = run.sim();
  for (int k = 0; k < sim.DaemonsPer(c.level); ++k) sim.Crash(sim.FirstDaemon(c) + k);
  const Instant at = sim.now();
  run.Measure(
      figure,
      [&] {
        const auto m = sim.AtParent(c);
        return m && m->state == membership::MemberState::kFailed;
      },
      limit);
  run.Settle(at, limit, never);
  return run.Finish();
}

ScenarioResult SubCluster(HRun& run, Prng& prng) {
  if (!run.Form()) return run.Finish();
  return KillSubtree(run, SomeLeafCluster(run.sim(), prng), "parent_detect_ms",
                     Duration::Seconds(20),
                     "the root's aggregate never dropped the dead sub-cluster");
}

ScenarioResult Root(HRun& run) {
  if (!run.Form()) return run.Finish();
  HierarchySim& sim = run.sim();
  const int top = sim.SupervisorDaemon(Cluster{sim.levels() - 1, 0});
  sim.Crash(top);
  const Instant at = sim.now();
  run.Measure(
      "restable_ms", [&] { return sim.Stable(); }, Duration::Seconds(30));
  run.Settle(at, Duration::Seconds(10), "the new root's aggregate never counted every daemon");
  return run.Finish();
}

// Detection at the root: every daemon under the root's node 2 dies.
ScenarioResult SubTree(HRun& run) {
  if (!run.Form()) return run.Finish();
  return KillSubtree(run, Cluster{run.sim().levels() - 2, 1}, "root_detect_ms",
                     Duration::Seconds(30), "the root's aggregate never dropped the dead subtree");
}

// Takeover at every level: the daemon supervising the root's node 2's cluster (and so a
// cluster at every level below) dies; each level's node is taken over by a new incarnation.
ScenarioResult Deep(HRun& run) {
  if (!run.Form()) return run.Finish();
  HierarchySim& sim = run.sim();
  const int victim = sim.SupervisorDaemon(Cluster{sim.levels() - 2, 1});
  std::vector<Cluster> held;
  std::vector<Incarnation> before;
  for (int level = 0; level + 1 < sim.levels(); ++level) {
    held.push_back(sim.AncestorOf(victim, level));
    before.push_back(sim.SlotIncarnation(held.back()));
  }
  sim.Crash(victim);
  const Instant at = sim.now();
  std::vector<bool> done(held.size(), false);
  sim.RunUntilTrue(
      [&] {
        bool all = true;
        for (size_t k = 0; k < held.size(); ++k) {
          if (done[k]) continue;
          const auto m = sim.AtParent(held[k]);
          done[k] = m && m->state == membership::MemberState::kUp && m->incarnation > before[k] &&
                    m->incarnation == sim.SlotIncarnation(held[k]);
          if (done[k]) {
            run.Figure("takeover_level" + std::to_string(k + 1) + "_ms",
                       static_cast<double>((sim.now() - at).micros()) / 1000.0);
          }
          all = all && done[k];
        }
        return all;
      },
      Duration::Seconds(30));
  for (size_t k = 0; k < held.size(); ++k) {
    run.Check(done[k], "level " + std::to_string(k + 1) + ": the node was not taken over");
  }
  run.Settle(at, Duration::Seconds(10), "the root's aggregate never counted the dead daemon");
  return run.Finish();
}

ScenarioResult Lossy(HRun& run, Prng& prng) {
  if (!run.Form()) return run.Finish();
  HierarchySim& sim = run.sim();
  const Cluster c = SomeLeafCluster(sim, prng);
  sim.Crash(sim.SupervisorDaemon(c));
  run.Settle(sim.now(), Duration::Seconds(10),
             "the root's aggregate never counted the dead supervisor", "takeover_");
  int victim = -1;
  for (int d = sim.FirstDaemon(c); d < sim.FirstDaemon(c) + sim.DaemonsPer(0); ++d) {
    if (sim.alive(d) && d != sim.SupervisorDaemon(c)) victim = d;
  }
  if (victim < 0) return run.Finish();
  sim.Crash(victim);
  const Instant at = sim.now();
  run.Measure(
      "leaf_detect_ms", [&] { return sim.LeafMarkedFailed(victim); }, Duration::Seconds(5));
  run.Settle(at, Duration::Seconds(10), "the root's aggregate never counted the dead leaf");
  run.Views(at, "views_ms");  // the root's new figures, sent down to every leaf
  return run.Finish();
}

// Two levels of about sqrt(nodes): 16 -> 4x4, 10 -> 3x4 (12).
std::vector<int> ShapeFor(int nodes) {
  const int per = std::max(2, static_cast<int>(std::ceil(std::sqrt(static_cast<double>(nodes)))));
  return {std::max(2, (nodes + per - 1) / per), std::min(per, 255)};
}

}  // namespace

void AddHierarchyScenarios(std::map<std::string, std::string>& all) {
  for (const auto& [name, what] : Described()) all[name] = what;
}

bool IsHierarchyScenario(const std::string& name) { return Described().count(name) > 0; }

ScenarioResult RunHierarchyShape(const std::string& name, const std::vector<int>& shape,
                                 uint64_t seed) {
  CHECK(IsHierarchyScenario(name));
  HRun run(name, shape, seed, name == "hlossy" ? 0.02 : 0.0);
  Prng prng(seed ^ 0x4e11);
  if (name == "hform") return Form(run);
  if (name == "hleaf") return Leaf(run, prng);
  if (name == "htakeover") return Takeover(run, prng);
  if (name == "hsubcluster") return SubCluster(run, prng);
  if (name == "hlossy") return Lossy(run, prng);
  if (name == "hsubtree") return SubTree(run);
  if (name == "hdeep") return Deep(run);
  return Root(run);
}

std::optional<ScenarioResult> RunHierarchyScenario(const std::string& name, int nodes,
                                                   uint64_t seed) {
  if (!IsHierarchyScenario(name)) return std::nullopt;
  return RunHierarchyShape(name, ShapeFor(nodes), seed);
}

}  // namespace cohort::sim
