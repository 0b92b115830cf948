// Group Services scenarios on GroupsSim: clients join two groups (one depending on the
// other), propose and vote while faults strike at seeded times; the checkers of GroupsSim
// run on every event, and once the faults stop every request must be answered and every
// member caught up (termination). Figures are virtual-time milliseconds.
#include "sim/groups_scenarios.h"

#include "sim/groups_sim.h"

namespace cohort::sim {
namespace {

constexpr Duration kSettleBound = Duration::Seconds(10);

class GRun {
 public:
  GRun(const std::string& name, int nodes, uint64_t seed, double loss) : prng_(seed ^ 0x6a0b) {
    r_.scenario = name;
    r_.nodes = nodes;
    r_.seed = seed;
    GroupsSimOptions o;
    o.nodes = nodes;
    o.seed = seed;
    o.loss = loss;
    sim_ = std::make_unique<GroupsSim>(o);
    sim_->StartAll(Duration::Millis(50));
    sim_->SetProposing(true);
  }
  GroupsSim& sim() { return *sim_; }
  Prng& prng() { return prng_; }
  NodeId RandomNode() { return static_cast<NodeId>(1 + prng_.Below(r_.nodes)); }
  // Runs `d` in slices, checking the safety checkers as it goes.
  void Run(Duration d) {
    sim_->RunUntilTrue([&] { return !sim_->violations().empty(); }, d);
  }
  // Faults over: stop proposing, and every request must be answered and every member caught
  // up within kSettleBound.
  ScenarioResult Finish() {
    sim_->SetProposing(false);
    sim_->SetLoss(0);
    const Instant start = sim_->now();
    std::string why;
    const bool quiet =
        sim_->RunUntilTrue([&] { return !sim_->violations().empty() || sim_->Quiet(&why); },
                           kSettleBound, Duration::Millis(20));
    r_.figures["settle_ms"] = static_cast<double>((sim_->now() - start).micros()) / 1000.0;
    for (const std::string& v : sim_->violations()) Fail(v);
    if (!quiet || !sim_->violations().empty()) {
      if (sim_->violations().empty())
        Fail("not quiet " + std::to_string(kSettleBound.millis()) + " ms after the faults: " + why);
    }
    r_.figures["commits"] = static_cast<double>(sim_->commits());
    r_.figures["aborts"] = static_cast<double>(sim_->aborts());
    r_.trace_digest = sim_->trace();
    r_.delivered = sim_->delivered();
    r_.dropped = sim_->dropped();
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
  std::unique_ptr<GroupsSim> sim_;
};

// Clients come and go under 1% loss.
ScenarioResult Churn(int nodes, uint64_t seed) {
  GRun run("groups", nodes, seed, 0.01);
  for (int k = 0; k < 6; ++k) {
    run.Run(Duration::Millis(200 + static_cast<int64_t>(run.prng().Below(200))));
    run.sim().KillClient(run.RandomNode());
  }
  return run.Finish();
}

// The coordinator crashes mid-run (at a seeded instant, so at every step of some
// transition across seeds), then another node; both come back. Figure: how long after the
// coordinator's crash every request open at a survivor had its outcome (the queue of every
// client's request, each up to three rounds, a silent provider costing a vote timeout).
ScenarioResult CoordinatorCrash(int nodes, uint64_t seed) {
  GRun run("gcrash", nodes, seed, 0.0);
  GroupsSim& sim = run.sim();
  run.Run(Duration::Millis(300 + static_cast<int64_t>(run.prng().Below(500))));
  const NodeId coordinator = sim.coordinator();
  sim.Crash(coordinator);
  const std::set<groups::RequestId> open = sim.OpenRequests();
  const Instant crashed = sim.now();
  const bool known = sim.RunUntilTrue(
      [&] {
        for (const auto& id : open) {
          if (!sim.Answered(id) && sim.StillOpen(id)) return false;
        }
        return true;
      },
      kSettleBound, Duration::Millis(5));
  run.result().figures["outcomes_after_crash_ms"] =
      static_cast<double>((sim.now() - crashed).micros()) / 1000.0;
  if (!known) {
    for (const auto& id : open) {
      if (!sim.Answered(id) && sim.StillOpen(id)) {
        run.Fail("request " + std::to_string(id.node) + "/" + std::to_string(id.seq) +
                 ", open at the coordinator's crash, still open " +
                 std::to_string(kSettleBound.millis()) + " ms later");
        break;
      }
    }
  }
  run.Run(Duration::Millis(static_cast<int64_t>(run.prng().Below(300))));
  NodeId other = run.RandomNode();
  if (other != coordinator) sim.Crash(other);
  run.Run(Duration::Millis(400 + static_cast<int64_t>(run.prng().Below(400))));
  sim.Restart(coordinator);
  sim.Restart(other);
  run.Run(Duration::Millis(500));
  return run.Finish();
}

// A minority (with the coordinator, every other seed) is cut off from the rest and from the
// registry, then the partition heals.
ScenarioResult Partition(int nodes, uint64_t seed) {
  GRun run("gpartition", nodes, seed, 0.01);
  GroupsSim& sim = run.sim();
  run.Run(Duration::Millis(300 + static_cast<int64_t>(run.prng().Below(400))));
  std::set<NodeId> minority;
  const size_t size = static_cast<size_t>(std::max(1, (nodes - 1) / 2));
  if (run.prng().Chance(0.5)) minority.insert(sim.coordinator());
  while (minority.size() < size) minority.insert(run.RandomNode());
  sim.Partition(minority);
  run.Run(Duration::Millis(600 + static_cast<int64_t>(run.prng().Below(600))));
  sim.Partition({});
  run.Run(Duration::Millis(500));
  return run.Finish();
}

// The registry is out of reach for a while, and its answers are lost at times (a write that
// took effect may look failed).
ScenarioResult RegistryOutage(int nodes, uint64_t seed) {
  GRun run("gregistry", nodes, seed, 0.05);
  GroupsSim& sim = run.sim();
  run.Run(Duration::Millis(300 + static_cast<int64_t>(run.prng().Below(400))));
  sim.SetRegistryUp(false);
  run.Run(Duration::Millis(200 + static_cast<int64_t>(run.prng().Below(400))));
  sim.SetRegistryUp(true);
  run.Run(Duration::Millis(500));
  return run.Finish();
}

}  // namespace

void AddGroupsScenarios(std::map<std::string, std::string>& all) {
  all["groups"] = "clients join, propose, vote and die under 1% loss; all answered, caught up";
  all["gcrash"] = "the coordinator crashes mid-transition, then another node; both return";
  all["gpartition"] = "a minority (often with the coordinator) cut off from the registry";
  all["gregistry"] = "the registry out of reach for a while, answers lost at 5%";
}

std::optional<ScenarioResult> RunGroupsScenario(const std::string& name, int nodes, uint64_t seed) {
  if (name == "groups") return Churn(nodes, seed);
  if (name == "gcrash") return CoordinatorCrash(nodes, seed);
  if (name == "gpartition") return Partition(nodes, seed);
  if (name == "gregistry") return RegistryOutage(nodes, seed);
  return std::nullopt;
}

}  // namespace cohort::sim
