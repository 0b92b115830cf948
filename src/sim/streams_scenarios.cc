// Stream placement scenarios on StreamsSim: 100 sessions a node arrive for titles drawn from
// a Zipf law; then viewers come and go, or nodes crash and a disk fails. The checker runs
// after every batch and every reassignment. Figures: the highest node load over the mean
// (the bound allows 1 + balance = 1.25), the share of sessions on their title's first
// choice, and what was refused, moved or left unplaced.
#include "sim/streams_scenarios.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "sim/streams_sim.h"

namespace cohort::sim {
namespace {

constexpr int kSessionsPerNode = 100;
constexpr int kBatches = 10;

class SRun {
 public:
  SRun(const std::string& name, int nodes, uint64_t seed) {
    r_.scenario = name;
    r_.nodes = nodes;
    r_.seed = seed;
    StreamsSimOptions o;
    o.nodes = nodes;
    o.seed = seed;
    sim_ = std::make_unique<StreamsSim>(o);
  }
  StreamsSim& sim() { return *sim_; }
  // Sessions arrive in batches up to 100 a node; figures at that peak.
  void FillUp() {
    const int total = kSessionsPerNode * r_.nodes;
    for (int b = 0; b < kBatches; ++b) {
      sim_->Arrive(total / kBatches);
      sim_->Report();
      sim_->Check();
      // At a tenth of the peak the floor (a tenth of a node's capacity) allows more.
      if (b == 0) Figure("max_over_avg_at_tenth", sim_->MaxOverAverage());
    }
    const PlacementTally& t = sim_->tally();
    Figure("sessions", static_cast<double>(sim_->table().sessions().size()));
    Figure("max_over_avg", sim_->MaxOverAverage());
    Figure("first_choice_share", Share(t.first_choice, t.opened));
    FirstChoiceCeilings();
    Figure("over_bound_share", Share(t.over_bound, t.opened));
    Figure("refused", static_cast<double>(t.refused));
  }
  // Ceilings on the first-choice share: no placement within the bound puts more on one
  // node than the bound allows, so of the load of each title (by title) or of all the
  // titles ranking a node first (by node), at most that much can be on its first choice.
  void FirstChoiceCeilings() {
    std::map<std::string, uint64_t> by_title;
    std::map<NodeId, uint64_t> by_node;
    uint64_t total = 0;
    for (const auto& [id, s] : sim_->table().sessions()) {
      by_title[s.path] += s.bitrate_kbps;
      total += s.bitrate_kbps;
    }
    for (const auto& [path, load] : by_title) {
      std::vector<workload::Holder> holders;
      for (const auto& [node, disk] : sim_->catalog().Servable(path)) holders.push_back({node});
      if (holders.empty()) continue;
      by_node[workload::RankHolders(workload::ContentHash(path), holders)[0]] += load;
    }
    const double bound = (1.0 + StreamsSimOptions{}.balance) * static_cast<double>(total) /
                         static_cast<double>(r_.nodes);
    const auto ceiling = [&](const auto& loads) {
      double fits = 0;
      for (const auto& [key, load] : loads) fits += std::min(static_cast<double>(load), bound);
      return total == 0 ? 0 : fits / static_cast<double>(total);
    };
    Figure("first_choice_ceiling_by_title", ceiling(by_title));
    Figure("first_choice_ceiling_by_node", ceiling(by_node));
  }
  static double Share(uint64_t part, uint64_t whole) {
    return whole == 0 ? 0 : static_cast<double>(part) / static_cast<double>(whole);
  }
  void Figure(const std::string& name, double v) { r_.figures[name] = v; }
  void Fail(const std::string& what) {
    r_.passed = false;
    r_.failures.push_back(what);
  }
  ScenarioResult Finish() {
    sim_->Check();
    const auto& v = sim_->violations();
    for (size_t i = 0; i < std::min<size_t>(v.size(), 10); ++i) Fail(v[i]);
    if (v.size() > 10) Fail("... and " + std::to_string(v.size() - 10) + " more");
    r_.trace_digest = sim_->trace();
    r_.delivered = sim_->tally().opened;
    return r_;
  }

 private:
  ScenarioResult r_;
  std::unique_ptr<StreamsSim> sim_;
};

// To the peak, then ten rounds in which a twentieth of the viewers leave and as many arrive.
ScenarioResult Place(int nodes, uint64_t seed) {
  SRun run("streams-place", nodes, seed);
  run.FillUp();
  StreamsSim& sim = run.sim();
  const int turnover = kSessionsPerNode * nodes / 20;
  for (int round = 0; round < 10; ++round) {
    sim.Leave(turnover);
    sim.Arrive(turnover);
    sim.Report();
    sim.Check();
  }
  run.Figure("max_over_avg_churned", sim.MaxOverAverage());
  size_t first = 0;
  for (const auto& [id, s] : sim.table().sessions()) first += s.rank == 0 ? 1 : 0;
  run.Figure("first_choice_share_churned", SRun::Share(first, sim.table().sessions().size()));
  return run.Finish();
}

// At the peak a fiftieth of the nodes (at least one) crash one after another, then a disk
// fails on a survivor: every displaced session moves to a holder with room or waits
// unplaced; once all return, nothing stays unplaced.
ScenarioResult Fail(int nodes, uint64_t seed) {
  SRun run("streams-fail", nodes, seed);
  run.FillUp();
  StreamsSim& sim = run.sim();
  std::set<NodeId> crashed;
  const size_t victims = static_cast<size_t>(std::max(1, nodes / 50));
  size_t moved = 0;
  for (size_t tries = 0; crashed.size() < victims && tries < 100 * victims; ++tries) {
    const NodeId node = sim.RandomNode();
    if (!crashed.insert(node).second) continue;
    sim.Crash(node);
    moved += sim.Reassign();
    sim.Check();
  }
  NodeId disk_node = sim.RandomNode();
  for (int tries = 0; crashed.contains(disk_node) && tries < 100; ++tries) {
    disk_node = sim.RandomNode();
  }
  sim.FailDisk(disk_node, true);
  moved += sim.Reassign();
  sim.Check();
  run.Figure("moved", static_cast<double>(moved));
  run.Figure("unplaced", static_cast<double>(sim.Unplaced()));
  run.Figure("max_over_avg_after", sim.MaxOverAverage());
  for (NodeId node : crashed) sim.Restart(node);
  sim.FailDisk(disk_node, false);
  sim.Reassign();
  if (sim.Unplaced() != 0) {
    run.Fail(std::to_string(sim.Unplaced()) + " sessions still unplaced after every node returned");
  }
  return run.Finish();
}

}  // namespace

void AddStreamsScenarios(std::map<std::string, std::string>& all) {
  all["streams-place"] = "100 sessions a node placed by catalog and load, then viewers churn";
  all["streams-fail"] = "nodes crash and a disk fails at the peak; sessions move, none overfills";
}

std::optional<ScenarioResult> RunStreamsScenario(const std::string& name, int nodes,
                                                 uint64_t seed) {
  if (name == "streams-place") return Place(nodes, seed);
  if (name == "streams-fail") return Fail(nodes, seed);
  return std::nullopt;
}

}  // namespace cohort::sim
