// Liveness scenarios (SPEC L1) on LivenessSim: two networks (three in lswitch3), faults that break
// paths, and every node's matrix checked against the simulator's ground truth once settled. Bounds
// are stated in docs/design/liveness.md; figures are virtual-time milliseconds.
#include "sim/liveness_scenarios.h"

#include <optional>

#include "sim/liveness_sim.h"

namespace cohort::sim {
namespace {

constexpr Duration kPeriod = Duration::Millis(100);
constexpr int kWholeCheckNodes = 64;
constexpr int kSampledObservers = 8;
constexpr int kSampledPaths = 400;

class LRun {
 public:
  LRun(const std::string& name, int nodes, uint64_t seed, int networks = 2)
      : networks_(networks), prng_(seed ^ 0x5eed) {
    r_.scenario = name;
    r_.nodes = nodes;
    r_.seed = seed;
    LivenessSimOptions o;
    o.nodes = nodes;
    o.networks = networks;
    o.seed = seed;
    o.timing.period = kPeriod;
    sim_ = std::make_unique<LivenessSim>(o);
  }
  LivenessSim& sim() { return *sim_; }
  Prng& prng() { return prng_; }
  void Check(bool ok, const std::string& what) {
    if (!ok) {
      r_.passed = false;
      r_.failures.push_back(what);
    }
  }
  // A path not on the ring is tried once per rotation: (nodes - 2) periods. Silence is
  // judged after a gap and as much again; rows then travel in a few milliseconds.
  Duration Rotation() const { return kPeriod * std::max(1, r_.nodes - 2); }
  Duration SettleBound() const { return Rotation() * 2 + kPeriod * 5; }
  // Every live node's whole matrix; above kWholeCheckNodes, a sample: kSampledObservers
  // nodes, each asked about kSampledPaths random paths (a fresh sample every check).
  size_t Wrong() {
    size_t wrong = 0;
    const std::vector<NodeId> live = sim_->live();
    if (r_.nodes <= kWholeCheckNodes) {
      for (NodeId id : live) wrong += sim_->WrongEntries(id);
      return wrong;
    }
    for (int k = 0; k < kSampledObservers; ++k) {
      std::vector<std::tuple<NodeId, NodeId, int>> paths;
      for (int p = 0; p < kSampledPaths; ++p) {
        const NodeId from = RandomNode();
        NodeId to = RandomNode();
        if (to == from) to = static_cast<NodeId>(from % r_.nodes + 1);
        paths.emplace_back(from, to, 1 + static_cast<int>(prng_.Below(networks_)));
      }
      wrong += sim_->WrongPaths(live[prng_.Below(live.size())], paths);
    }
    return wrong;
  }
  // Runs until every live node's matrix is the truth; records the time as figure `name`.
  bool Settle(const std::string& name, Duration bound,
              std::optional<Instant> since = std::nullopt) {
    const Instant start = since.value_or(sim_->now());
    const Duration step = Duration::Millis(r_.nodes > 40 ? 100 : 50);
    const bool ok = sim_->RunUntilTrue([&] { return Wrong() == 0; }, bound, step);
    r_.figures[name] = static_cast<double>((sim_->now() - start).micros()) / 1000.0;
    Check(ok, name + ": " + std::to_string(Wrong()) + " wrong matrix entries after " +
                  std::to_string(bound.millis()) + " ms; last: " + sim_->last_wrong());
    return ok;
  }
  // Runs until every node shows the path as it is; records the time as figure `name`.
  void Detect(const std::string& name, NodeId from, NodeId to, int network, Duration bound,
              std::optional<Instant> since = std::nullopt) {
    const Instant start = since.value_or(sim_->now());
    const bool ok = sim_->RunUntilTrue([&] { return sim_->PathSettled(from, to, network); }, bound,
                                       Duration::Millis(5));
    r_.figures[name] = static_cast<double>((sim_->now() - start).micros()) / 1000.0;
    Check(ok, name + ": path " + std::to_string(from) + "->" + std::to_string(to) + " on net" +
                  std::to_string(network) + " not seen by every node within " +
                  std::to_string(bound.millis()) + " ms");
  }
  bool Start() {
    sim_->StartAll(Duration::Millis(200));
    sim_->RunFor(Duration::Millis(201));  // every node started
    return Settle("settle_ms", SettleBound() + Duration::Seconds(1));
  }
  NodeId RandomNode() { return static_cast<NodeId>(1 + prng_.Below(r_.nodes)); }
  int RandomNetwork() { return 1 + static_cast<int>(prng_.Below(networks_)); }
  // Every live node told its transport that every other node's address on `network` is
  // heard (or not): the RM3 decision, made by the core.
  void TransportTold(int network, bool heard) {
    const size_t wrong = Untold(network, heard);
    Check(wrong == 0, std::to_string(wrong) + " addresses on net" + std::to_string(network) +
                          " not told " + (heard ? "heard" : "unheard") + " to the transport");
  }
  // Runs until every live node told its transport every address on `network` unheard (its
  // traffic left the network); records the time since `since` as figure `name`.
  void TrafficLeaves(const std::string& name, int network, Instant since, Duration bound) {
    const bool ok =
        sim_->RunUntilTrue([&] { return Untold(network, false) == 0; }, bound, Duration::Millis(5));
    r_.figures[name] = static_cast<double>((sim_->now() - since).micros()) / 1000.0;
    Check(ok, name + ": " + std::to_string(Untold(network, false)) + " addresses on net" +
                  std::to_string(network) + " still heard after " + std::to_string(bound.millis()) +
                  " ms");
  }
  size_t Untold(int network, bool heard) {
    size_t wrong = 0;
    for (NodeId observer : sim_->live()) {
      for (NodeId other : sim_->live()) {
        if (other == observer) continue;
        const auto told = sim_->Heard(observer, LivenessSim::AddressOf(other, network));
        wrong += !told.has_value() || *told != heard;
      }
    }
    return wrong;
  }
  // Once settled with no fault changing, nothing flaps: checked over `d`.
  // Row payload received so far, on average over the live nodes.
  double RowBytesIn() {
    double in = 0;
    for (NodeId id : sim_->live()) {
      in += static_cast<double>(sim_->core(id).metrics().row_bytes_received);
    }
    return in / static_cast<double>(sim_->live().size());
  }
  void Stays(Duration d) {
    const double before = RowBytesIn();
    size_t worst = 0;
    sim_->RunUntilTrue(
        [&] {
          worst = std::max(worst, Wrong());
          return false;
        },
        d, Duration::Millis(100));
    Check(worst == 0, std::to_string(worst) +
                          " wrong entries while nothing changed; last: " + sim_->last_wrong());
    r_.figures["steady_row_payload_B_per_s_per_node"] = (RowBytesIn() - before) / d.seconds();
  }
  void Record(const std::string& figure, double value) { r_.figures[figure] = value; }
  ScenarioResult Finish() {
    const auto& m = sim_->core(sim_->live().front()).metrics();
    const double seconds = (sim_->now() - Instant::FromNanos(1'000'000'000)).seconds();
    r_.figures["heartbeat_payload_B_per_s_per_adapter"] =
        static_cast<double>(m.heartbeat_bytes_sent) / seconds / 2.0;
    // Rows: what a node receives per second over the run, on average over the live nodes
    // (payload; the transport adds its seal and headers). On average a node sends as much.
    r_.figures["row_payload_B_per_s_per_node"] = RowBytesIn() / seconds;
    r_.delivered = sim_->delivered();
    r_.dropped = sim_->dropped();
    r_.trace_digest = sim_->delivered() * 1000003 + sim_->dropped();
    return r_;
  }

 private:
  ScenarioResult r_;
  int networks_;
  Prng prng_;
  std::unique_ptr<LivenessSim> sim_;
};

ScenarioResult Settle(int nodes, uint64_t seed) {
  LRun run("lsettle", nodes, seed);
  // Over two refreshes at least (a rotation each on a large network), so the steady figure
  // includes every row's refresh.
  if (run.Start()) run.Stays(std::max(Duration::Seconds(10), run.Rotation() * 2));
  return run.Finish();
}

// An adapter's cable is pulled, then plugged back.
ScenarioResult Cut(int nodes, uint64_t seed) {
  LRun run("lcut", nodes, seed);
  if (!run.Start()) return run.Finish();
  const NodeId x = run.RandomNode();
  const int net = run.RandomNetwork();
  const NodeId succ = static_cast<NodeId>(x % nodes + 1);
  run.sim().CutAdapter(x, net, true);
  run.Detect("successor_sees_cut_ms", x, succ, net, Duration::Seconds(2));
  if (run.Settle("cut_settle_ms", run.SettleBound())) run.Stays(Duration::Seconds(1));
  run.sim().CutAdapter(x, net, false);
  run.Detect("successor_sees_heal_ms", x, succ, net, Duration::Seconds(2));
  run.Settle("heal_settle_ms", run.SettleBound());
  return run.Finish();
}

// A network's switch fails: every path on it breaks; the other network carries the rows.
ScenarioResult Switch(int nodes, uint64_t seed) {
  LRun run("lswitch", nodes, seed);
  if (!run.Start()) return run.Finish();
  const Instant failed = run.sim().now();
  run.sim().FailNetwork(2, true);
  run.TrafficLeaves("switch_traffic_left_ms", 2, failed, Duration::Seconds(2));
  run.Detect("successor_sees_switch_ms", 1, 2, 2, Duration::Seconds(2), failed);
  if (run.Settle("switch_settle_ms", run.SettleBound(), failed)) run.TransportTold(2, false);
  run.sim().FailNetwork(2, false);
  if (run.Settle("switch_back_ms", run.SettleBound())) run.TransportTold(2, true);
  return run.Finish();
}

// Three networks: network 2's switch fails, then network 3's; network 1 alone carries the
// rows; then both come back.
ScenarioResult Switch3(int nodes, uint64_t seed) {
  LRun run("lswitch3", nodes, seed, 3);
  if (!run.Start()) return run.Finish();
  run.sim().FailNetwork(2, true);
  if (run.Settle("switch_settle_ms", run.SettleBound())) run.TransportTold(2, false);
  run.sim().FailNetwork(3, true);
  if (run.Settle("second_switch_settle_ms", run.SettleBound())) run.TransportTold(3, false);
  run.sim().FailNetwork(2, false);
  run.sim().FailNetwork(3, false);
  if (run.Settle("switches_back_ms", run.SettleBound())) {
    run.TransportTold(2, true);
    run.TransportTold(3, true);
  }
  return run.Finish();
}

// Every datagram (heartbeats, rows, row requests) is lost with probability 2% for two
// rotations (10 s at least). A path off the ring is judged down when two heartbeats of a
// rotation in a row are lost, so brief false downs are expected, and measured: the share of
// checks that found a wrong entry. Once the loss stops, every matrix is the truth again.
ScenarioResult Loss(int nodes, uint64_t seed) {
  LRun run("lloss", nodes, seed);
  if (!run.Start()) return run.Finish();
  run.sim().SetLoss(0.02);
  int checks = 0, wrong_checks = 0;
  run.sim().RunUntilTrue(
      [&] {
        ++checks;
        wrong_checks += run.Wrong() > 0;
        return false;
      },
      std::max(Duration::Seconds(10), run.Rotation() * 2), Duration::Millis(100));
  run.Record("checks_with_a_wrong_entry_pct", 100.0 * wrong_checks / std::max(1, checks));
  run.sim().SetLoss(0);
  // Heartbeats lost last are judged missing up to a rotation later: the matrix is the truth
  // once every such judgement has been made (and the paths came back), and stays so.
  run.sim().RunFor(run.SettleBound());
  if (run.Settle("after_loss_settle_ms", run.SettleBound())) run.Stays(Duration::Seconds(2));
  return run.Finish();
}

// One direction of one path is filtered: the other direction, and every other path, stay up.
ScenarioResult OneWay(int nodes, uint64_t seed) {
  LRun run("loneway", nodes, seed);
  if (!run.Start()) return run.Finish();
  const NodeId a = run.RandomNode();
  NodeId b = run.RandomNode();
  if (b == a) b = static_cast<NodeId>(a % nodes + 1);
  const int net = run.RandomNetwork();
  run.sim().Filter(a, b, net, true);
  run.Detect("oneway_seen_ms", a, b, net, run.SettleBound());
  run.Check(run.sim().PathSettled(b, a, net), "the reverse direction is not up everywhere");
  run.Settle("oneway_settle_ms", run.SettleBound());
  // On the ring: the successor's path, judged every period.
  const NodeId succ = static_cast<NodeId>(a % nodes + 1);
  if (succ != b) {
    run.sim().Filter(a, succ, net, true);
    run.Detect("oneway_ring_seen_ms", a, succ, net, Duration::Seconds(2));
    run.sim().Filter(a, succ, net, false);
  }
  run.sim().Filter(a, b, net, false);
  run.Settle("oneway_heal_ms", run.SettleBound());
  return run.Finish();
}

// An adapter flaps every 150 ms for 3 s; once it stays up the matrix settles to the truth.
ScenarioResult Flap(int nodes, uint64_t seed) {
  LRun run("lflap", nodes, seed);
  if (!run.Start()) return run.Finish();
  const NodeId x = run.RandomNode();
  for (int i = 0; i < 20; ++i) {
    run.sim().CutAdapter(x, 1, i % 2 == 0);
    run.sim().RunFor(Duration::Millis(150));
  }
  run.sim().CutAdapter(x, 1, false);
  // A heartbeat lost in the last cuts may be judged missing a rotation later: the matrix is
  // the truth once it may be, and again for good once every such judgement has been made.
  if (!run.Settle("flap_settle_ms", run.SettleBound())) return run.Finish();
  run.sim().RunFor(run.SettleBound());
  run.Check(run.Wrong() == 0, "wrong entries a settle bound after the flapping stopped");
  run.Stays(Duration::Seconds(1));
  return run.Finish();
}

// A node crashes: every path into and out of it goes down; restarted, they come back.
ScenarioResult Crash(int nodes, uint64_t seed) {
  LRun run("lcrash", nodes, seed);
  if (!run.Start()) return run.Finish();
  const NodeId x = run.RandomNode();
  run.sim().Crash(x);
  run.Settle("crash_settle_ms", run.SettleBound());
  run.sim().Restart(x);
  run.Settle("restart_settle_ms", run.SettleBound());
  return run.Finish();
}

}  // namespace

void AddLivenessScenarios(std::map<std::string, std::string>& all) {
  all["lsettle"] = "liveness: 2 networks; every node's matrix is the truth, and stays so";
  all["lcut"] = "liveness: an adapter is cut and healed";
  all["lswitch"] = "liveness: network 2's switch fails and returns";
  all["loneway"] = "liveness: one direction of one path is filtered, then one on the ring";
  all["lflap"] = "liveness: an adapter flaps every 150 ms for 3 s, then stays up";
  all["lcrash"] = "liveness: a node crashes and restarts";
  all["lswitch3"] = "liveness: 3 networks; two switches fail, then return";
  all["lloss"] = "liveness: 2% of datagrams lost for two rotations, then none";
}

std::optional<ScenarioResult> RunLivenessScenario(const std::string& name, int nodes,
                                                  uint64_t seed) {
  if (name == "lsettle") return Settle(nodes, seed);
  if (name == "lcut") return Cut(nodes, seed);
  if (name == "lswitch") return Switch(nodes, seed);
  if (name == "loneway") return OneWay(nodes, seed);
  if (name == "lflap") return Flap(nodes, seed);
  if (name == "lcrash") return Crash(nodes, seed);
  if (name == "lswitch3") return Switch3(nodes, seed);
  if (name == "lloss") return Loss(nodes, seed);
  return std::nullopt;
}

}  // namespace cohort::sim
