// Resource manager scenarios on ResourcesSim: resources placed and started, then a node
// crashes, a minority is cut off from the registry, or a disk fails, at seeded times; the
// one-node checker runs at every step, and once the faults are over every resource must run
// where placement puts it (termination). Figures are virtual-time milliseconds. The `-fast`
// variants run them with fast takeover at the dev cluster's settings (cli/dev.cc).
#include "sim/resources_scenarios.h"

#include <algorithm>

#include "sim/resources_sim.h"

namespace cohort::sim {
namespace {

constexpr int64_t kSettleMs = 10'000;

class RRun {
 public:
  RRun(const std::string& name, int nodes, uint64_t seed, bool fast) : prng_(seed ^ 0x7e50) {
    r_.scenario = name + (fast ? "-fast" : "");
    r_.nodes = nodes;
    r_.seed = seed;
    ResourcesSimOptions o;
    o.nodes = nodes;
    o.seed = seed;
    if (fast) {
      // A stop within the 300 ms margin.
      o.margin_ms = 300;
      o.alive_ttl_ms = 600;
      o.max_start_ms = 120;
      o.max_monitor_ms = 80;
      o.max_stop_ms = 170;
    }
    sim_ = std::make_unique<ResourcesSim>(o);
  }
  ResourcesSim& sim() { return *sim_; }
  Prng& prng() { return prng_; }
  NodeId RandomNode() { return static_cast<NodeId>(1 + prng_.Below(r_.nodes)); }
  // Everything placed and running at first.
  void Start() {
    std::string why;
    if (!sim_->RunUntil([&] { return sim_->Settled(&why); }, kSettleMs)) {
      Fail("not settled at the start: " + why);
    }
    r_.figures["start_ms"] = static_cast<double>(sim_->now_ms());
  }
  ScenarioResult Finish() {
    sim_->SetMonitorFailure(0);
    const int64_t start = sim_->now_ms();
    std::string why;
    const bool settled = sim_->RunUntil([&] { return sim_->Settled(&why); }, kSettleMs);
    r_.figures["settle_ms"] = static_cast<double>(sim_->now_ms() - start);
    for (const std::string& v : sim_->violations()) Fail(v);
    if (!settled && sim_->violations().empty()) {
      Fail("not settled " + std::to_string(kSettleMs) + " ms after the faults: " + why);
    }
    r_.trace_digest = sim_->trace();
    r_.delivered = sim_->actions();
    return r_;
  }
  void Fail(const std::string& what) {
    r_.passed = false;
    r_.failures.push_back(what);
  }
  ScenarioResult& result() { return r_; }

 private:
  Prng prng_;
  ScenarioResult r_;
  std::unique_ptr<ResourcesSim> sim_;
};

// How long until every one of `moved` runs on a node other than `from` (the figure the
// failover benchmark measures on real daemons); -1 if not within kSettleMs.
int64_t TimeToMove(ResourcesSim& sim, const std::vector<std::string>& moved, NodeId from) {
  const int64_t start = sim.now_ms();
  const bool done = sim.RunUntil(
      [&] {
        return std::all_of(moved.begin(), moved.end(), [&](const std::string& name) {
          const NodeId at = sim.RunningOn(name);
          return at != kNoNode && at != from;
        });
      },
      kSettleMs);
  return done ? sim.now_ms() - start : -1;
}

// A node crashes (the supervisor, every third seed); its resources run elsewhere; it
// returns. Figure: crash to the last of its resources running elsewhere.
ScenarioResult Crash(int nodes, uint64_t seed, bool fast) {
  RRun run("rcrash", nodes, seed, fast);
  ResourcesSim& sim = run.sim();
  run.Start();
  sim.RunFor(static_cast<int64_t>(run.prng().Below(1000)));
  const NodeId victim = seed % 3 == 0 ? sim.supervisor() : run.RandomNode();
  const std::vector<std::string> moved = sim.RunningAt(victim);
  sim.Crash(victim);
  const int64_t took = TimeToMove(sim, moved, victim);
  if (took < 0 && sim.violations().empty()) run.Fail("a crashed node's resources did not move");
  run.result().figures["failover_ms"] = static_cast<double>(std::max<int64_t>(took, 0));
  sim.RunFor(static_cast<int64_t>(run.prng().Below(1000)));
  sim.Restart(victim);
  return run.Finish();
}

// A minority (with the supervisor, every other seed) is cut off from the registry and the
// rest while monitors fail now and then, for long enough that its leases end (or not);
// then the partition heals.
ScenarioResult Partition(int nodes, uint64_t seed, bool fast) {
  RRun run("rpartition", nodes, seed, fast);
  ResourcesSim& sim = run.sim();
  run.Start();
  sim.SetMonitorFailure(0.01);
  sim.RunFor(static_cast<int64_t>(run.prng().Below(1000)));
  std::set<NodeId> minority;
  const size_t size = static_cast<size_t>(std::max(1, (nodes - 1) / 2));
  if (run.prng().Chance(0.5)) minority.insert(sim.supervisor());
  while (minority.size() < size) minority.insert(run.RandomNode());
  sim.Partition(minority);
  sim.RunFor(300 + static_cast<int64_t>(run.prng().Below(3000)));
  sim.Partition({});
  sim.RunFor(static_cast<int64_t>(run.prng().Below(1000)));
  return run.Finish();
}

// A node's disk fails: what needs it there moves (or fails over by its monitor first),
// while another node crashes and returns; the disk comes back.
ScenarioResult Disk(int nodes, uint64_t seed, bool fast) {
  RRun run("rdisk", nodes, seed, fast);
  ResourcesSim& sim = run.sim();
  run.Start();
  sim.RunFor(static_cast<int64_t>(run.prng().Below(800)));
  const NodeId node = run.RandomNode();
  sim.SetDisk(node, false);
  sim.RunFor(static_cast<int64_t>(run.prng().Below(1500)));
  const NodeId other = run.RandomNode();
  if (other != node) sim.Crash(other);
  sim.RunFor(500 + static_cast<int64_t>(run.prng().Below(1500)));
  sim.Restart(other);
  sim.SetDisk(node, true);
  return run.Finish();
}

}  // namespace

void AddResourcesScenarios(std::map<std::string, std::string>& all) {
  all["rcrash"] = "a node (often the supervisor) crashes; its resources run elsewhere; it returns";
  all["rpartition"] = "a minority cut off from the registry while monitors fail; never on two";
  all["rdisk"] = "a node's disk fails and another node crashes; what needs the disk moves";
  all["rcrash-fast"] = "rcrash with fast takeover (alive keys, 600 ms)";
  all["rpartition-fast"] = "rpartition with fast takeover (alive keys, 600 ms)";
  all["rdisk-fast"] = "rdisk with fast takeover (alive keys, 600 ms)";
}

std::optional<ScenarioResult> RunResourcesScenario(const std::string& name, int nodes,
                                                   uint64_t seed) {
  const std::string fast = "-fast";
  const bool is_fast = name.size() > fast.size() && name.ends_with(fast);
  const std::string base = is_fast ? name.substr(0, name.size() - fast.size()) : name;
  if (base == "rcrash") return Crash(nodes, seed, is_fast);
  if (base == "rpartition") return Partition(nodes, seed, is_fast);
  if (base == "rdisk") return Disk(nodes, seed, is_fast);
  return std::nullopt;
}

}  // namespace cohort::sim
