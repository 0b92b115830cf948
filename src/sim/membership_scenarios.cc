// Membership scenarios (SPEC M3–M10) on MembershipSim. Bounds are stated in
// docs/design/membership.md; figures are virtual-time milliseconds.
#include "sim/membership_scenarios.h"

#include "sim/membership_sim.h"

namespace cohort::sim {
namespace {

using membership::MemberState;

class MRun {
 public:
  MRun(const std::string& name, int nodes, uint64_t seed, double loss = 0.0,
       std::vector<std::string> disks = {}) {
    r_.scenario = name;
    r_.nodes = nodes;
    r_.seed = seed;
    MembershipSimOptions o;
    o.nodes = nodes;
    o.seed = seed;
    o.loss = loss;
    o.timing.disks = std::move(disks);
    sim_ = std::make_unique<MembershipSim>(o);
  }
  MembershipSim& sim() { return *sim_; }
  Duration period() const { return Duration::Millis(100); }
  void Check(bool ok, const std::string& what) {
    if (!ok) {
      r_.passed = false;
      r_.failures.push_back(what);
    }
  }
  // Runs until `done` or `limit`; records the time taken as figure `name`.
  bool Measure(const std::string& name, const std::function<bool()>& done, Duration limit,
               Duration bound = Duration::Max()) {
    const Instant start = sim_->now();
    const bool ok = sim_->RunUntilTrue(done, limit);
    const double ms = static_cast<double>((sim_->now() - start).micros()) / 1000.0;
    r_.figures[name] = ms;
    Check(ok, name + ": not reached within " + std::to_string(limit.millis()) + " ms");
    if (ok && bound != Duration::Max()) {
      Check(sim_->now() - start <= bound, name + " took " + std::to_string(ms) + " ms > bound " +
                                              std::to_string(bound.millis()) + " ms");
    }
    return ok;
  }
  bool Form() {
    sim_->StartAll(Duration::Millis(200));
    if (!Measure(
            "formation_ms", [&] { return sim_->Stable(); }, Duration::Seconds(20))) {
      return false;
    }
    Check(sim_->alive(1) && sim_->core(1).role() == membership::Role::kSupervisor,
          "node 1 (top priority) is not the supervisor after formation");
    return true;
  }
  ScenarioResult Finish() {
    for (const auto& v : sim_->violations()) Check(false, v);
    r_.trace_digest = sim_->trace_digest();
    r_.delivered = sim_->delivered();
    r_.dropped = sim_->dropped();
    return r_;
  }
  NodeId RandomMember(Prng& prng) {
    auto live = sim_->live();
    std::vector<NodeId> members;
    for (NodeId id : live) {
      if (sim_->core(id).role() != membership::Role::kSupervisor) members.push_back(id);
    }
    return members.empty() ? kNoNode : members[prng.Below(members.size())];
  }

 private:
  ScenarioResult r_;
  std::unique_ptr<MembershipSim> sim_;
};

// Detection bound: K silent periods, one period of confirmation probes, then one period
// of slack for the declaration and the map to travel.
Duration DetectionBound() { return Duration::Millis(100) * (3 + 2); }
// Failover bound: a notification time, a period of probes, a period for the new map.
Duration FailoverBound() { return Duration::Millis(300) + Duration::Millis(100) * 3; }

ScenarioResult Form(int nodes, uint64_t seed) {
  MRun run("form", nodes, seed);
  run.Form();
  return run.Finish();
}

// A member is killed, then the supervisor; the old supervisor restarts and preempts.
ScenarioResult Crash(int nodes, uint64_t seed) {
  MRun run("crash", nodes, seed);
  if (!run.Form()) return run.Finish();
  MembershipSim& s = run.sim();
  Prng prng(seed ^ 0xdead);
  s.RunFor(Duration::Millis(500 + prng.Below(300)));
  const NodeId victim = run.RandomMember(prng);
  if (victim != kNoNode) {
    const Incarnation inc = s.incarnation(victim);
    s.Crash(victim);
    run.Measure(
        "detection_ms", [&] { return s.MarkedEverywhere(victim, inc, MemberState::kFailed); },
        Duration::Seconds(5), DetectionBound());
  }
  s.RunFor(Duration::Millis(300 + prng.Below(300)));
  const Incarnation top_inc = s.incarnation(1);
  s.Crash(1);
  run.Measure(
      "failover_ms",
      [&] { return s.Stable() && s.MarkedEverywhere(1, top_inc, MemberState::kFailed); },
      Duration::Seconds(5), FailoverBound());
  s.Restart(1);
  run.Measure(
      "rejoin_ms", [&] { return s.Stable(); }, Duration::Seconds(5));
  run.Check(s.core(1).role() == membership::Role::kSupervisor,
            "the restarted top-priority node did not preempt");
  return run.Finish();
}

// A member leaves gracefully, then the supervisor does.
ScenarioResult Leave(int nodes, uint64_t seed) {
  MRun run("leave", nodes, seed);
  if (!run.Form()) return run.Finish();
  MembershipSim& s = run.sim();
  Prng prng(seed ^ 0x1ea4e);
  s.RunFor(Duration::Millis(500));
  const NodeId member = run.RandomMember(prng);
  if (member != kNoNode) {
    const Incarnation inc = s.incarnation(member);
    s.Leave(member);
    run.Measure(
        "leave_ms", [&] { return s.MarkedEverywhere(member, inc, MemberState::kLeft); },
        Duration::Seconds(3), Duration::Millis(300));
  }
  s.Leave(1);
  run.Measure(
      "supervisor_leave_ms", [&] { return s.Stable(); }, Duration::Seconds(3),
      Duration::Millis(800));
  return run.Finish();
}

// The cluster splits in two, each side elects its own supervisor, then it heals and the
// two merge under the top priority, without flapping afterwards.
ScenarioResult Partition(int nodes, uint64_t seed) {
  MRun run("partition", nodes, seed);
  if (!run.Form()) return run.Finish();
  MembershipSim& s = run.sim();
  Prng prng(seed ^ 0x9a27);
  std::set<NodeId> side;
  for (NodeId id : s.ids()) {
    if (prng.Chance(0.5)) side.insert(id);
  }
  if (side.empty() || side.size() == s.ids().size()) side = {1};
  s.Partition(side);
  run.Measure(
      "split_ms", [&] { return s.Stable(); }, Duration::Seconds(10));
  s.Heal();
  if (!run.Measure(
          "merge_ms", [&] { return s.Stable(); }, Duration::Seconds(10))) {
    return run.Finish();
  }
  uint64_t changes = 0;
  for (NodeId id : s.live()) changes += s.core(id).metrics().supervisor_changes;
  s.RunFor(Duration::Seconds(2));
  uint64_t after = 0;
  for (NodeId id : s.live()) after += s.core(id).metrics().supervisor_changes;
  run.Check(s.Stable() && after == changes, "supervisor changes after the merge (flapping)");
  return run.Finish();
}

// A node stalls for less than K periods: not declared. Then for 10 periods: declared, and it
// rejoins at once when it resumes.
ScenarioResult Slow(int nodes, uint64_t seed) {
  MRun run("slow", nodes, seed);
  if (!run.Form()) return run.Finish();
  MembershipSim& s = run.sim();
  Prng prng(seed ^ 0x510);
  const NodeId x = run.RandomMember(prng);
  if (x == kNoNode) return run.Finish();
  s.RunFor(Duration::Millis(300));
  s.Pause(x, Duration::Millis(250));  // 2.5 periods, below miss_limit = 3
  s.RunFor(Duration::Seconds(2));
  run.Check(s.Stable(), "a node stalled for 2.5 periods disturbed the cluster");
  s.Pause(x, Duration::Seconds(1));
  const Incarnation inc = s.incarnation(x);
  run.Measure(
      "stalled_detection_ms",
      [&] { return s.core(1).map().Find(x)->state == MemberState::kFailed; }, Duration::Seconds(1));
  run.Measure(
      "rejoin_after_stall_ms", [&] { return s.Stable(); }, Duration::Seconds(3));
  run.Check(s.incarnation(x) == inc, "the stalled node restarted instead of rejoining");
  return run.Finish();
}

// 5% loss for 20 s of virtual time: no false positive; a crash is still detected.
ScenarioResult Lossy(int nodes, uint64_t seed) {
  MRun run("mlossy", nodes, seed, 0.05);
  if (!run.Form()) return run.Finish();
  MembershipSim& s = run.sim();
  s.RunFor(Duration::Seconds(20));
  run.Check(s.Stable(), "not stable after 20 s at 5% loss");
  Prng prng(seed ^ 0x1055);
  const NodeId victim = run.RandomMember(prng);
  if (victim != kNoNode) {
    const Incarnation inc = s.incarnation(victim);
    s.Crash(victim);
    run.Measure(
        "detection_ms", [&] { return s.MarkedEverywhere(victim, inc, MemberState::kFailed); },
        Duration::Seconds(5));
  }
  return run.Finish();
}

// M11 at 2% loss: one member loses its path to d1 (only that path fails); two members lose
// d2 (the disk is declared failed); the supervisor crashes and its successor keeps the disk
// table; one d2 path comes back (the disk is restored); the old supervisor restarts.
ScenarioResult Disks(int nodes, uint64_t seed) {
  using membership::DiskState;
  using membership::PathState;
  MRun run("disks", nodes, seed, 0.02, {"d1", "d2"});
  if (!run.Form()) return run.Finish();
  MembershipSim& s = run.sim();
  Prng prng(seed ^ 0xd15c);
  const NodeId a = run.RandomMember(prng);
  NodeId b = run.RandomMember(prng);
  for (int i = 0; i < 100 && b == a; ++i) b = run.RandomMember(prng);
  if (a == kNoNode || a == b) return run.Finish();
  const Duration bound = Duration::Millis(300) + Duration::Millis(100) * 2;
  s.SetPathBroken(a, "d1", true);
  run.Measure(
      "path_failure_ms",
      [&] { return s.DiskEverywhere("d1", DiskState::kDegraded, a, PathState::kFailed); },
      Duration::Seconds(3), bound);
  s.SetPathBroken(a, "d2", true);
  s.SetPathBroken(b, "d2", true);
  run.Measure(
      "disk_failure_ms", [&] { return s.DiskEverywhere("d2", DiskState::kFailed); },
      Duration::Seconds(3), bound);
  const Incarnation top_inc = s.incarnation(1);
  s.Crash(1);
  // No bound here: at 2% loss a lost notification adds a period (the bound is for no loss).
  run.Measure(
      "failover_ms",
      [&] { return s.Stable() && s.MarkedEverywhere(1, top_inc, MemberState::kFailed); },
      Duration::Seconds(5));
  run.Check(s.DiskEverywhere("d2", DiskState::kFailed) &&
                s.DiskEverywhere("d1", DiskState::kDegraded, a, PathState::kFailed),
            "the new supervisor lost the disk table");
  s.SetPathBroken(b, "d2", false);
  run.Measure(
      "disk_restore_ms",
      [&] { return s.DiskEverywhere("d2", DiskState::kDegraded, b, PathState::kOk); },
      Duration::Seconds(3), bound);
  s.Restart(1);
  run.Measure(
      "rejoin_ms",
      [&] { return s.Stable() && s.DiskEverywhere("d1", DiskState::kDegraded, 1, PathState::kOk); },
      Duration::Seconds(5));
  return run.Finish();
}

}  // namespace

void AddMembershipScenarios(std::map<std::string, std::string>& all) {
  all["form"] = "membership: nodes start within 200 ms and form one cluster under node 1";
  all["crash"] = "membership: kill a member, then the supervisor; restart it: it preempts";
  all["leave"] = "membership: a member leaves gracefully, then the supervisor";
  all["partition"] = "membership: split in two, heal, merge under node 1 without flapping";
  all["slow"] = "membership: a node stalls 2.5 periods (kept), then 10 (declared, rejoins)";
  all["disks"] = "membership: one node's disk path fails, then two nodes' (disk failed) at 2% loss";
  all["mlossy"] = "membership: 20 s at 5% loss without false positives; a crash is detected";
}

std::optional<ScenarioResult> RunMembershipScenario(const std::string& name, int nodes,
                                                    uint64_t seed) {
  if (name == "form") return Form(nodes, seed);
  if (name == "crash") return Crash(nodes, seed);
  if (name == "leave") return Leave(nodes, seed);
  if (name == "partition") return Partition(nodes, seed);
  if (name == "slow") return Slow(nodes, seed);
  if (name == "mlossy") return Lossy(nodes, seed);
  if (name == "disks") return Disks(nodes, seed);
  return std::nullopt;
}

}  // namespace cohort::sim
