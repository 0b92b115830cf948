// One resource, three nodes, a registry with leases, and faults: nodes cut off from the
// registry for random spells, renewals and answers delayed, placement changing under them,
// monitors failing, actions taking random times. Over 1,000 seeds: the resource is never
// possibly active on two nodes at once, and once the faults stop it runs somewhere.
#include <gtest/gtest.h>

#include "base/prng.h"
#include "resources/agent.h"

namespace cohort::resources {
namespace {

constexpr int kNodes = 3;
constexpr int64_t kTtlMs = 2000;
constexpr int64_t kRenewEveryMs = 250;
constexpr int64_t kMarginMs = 600;
constexpr int64_t kMaxStopMs = 400;  // stops are bounded below the margin (docs: margins)

Instant Ms(int64_t ms) { return Instant::FromNanos(ms * 1'000'000); }

struct SimNode {
  LocalAgent agent;
  int64_t lease = 0;
  bool connected = true;
  int64_t next_renew = 0;
  // The action under way: what, and when it ends.
  std::optional<std::pair<ActionKind, int64_t>> busy;
  explicit SimNode(NodeId id) : agent(id, Duration::Millis(kMarginMs)) {}
};

struct World {
  Prng prng;
  std::vector<SimNode> nodes;
  std::map<int64_t, int64_t> leases;  // id -> expiry at the registry
  std::optional<std::pair<NodeId, int64_t>> owner;
  NodeId placed = 1;
  int64_t next_lease = 1;
  uint32_t failures = 0;
  explicit World(uint64_t seed) : prng(seed) {
    for (int n = 1; n <= kNodes; ++n) nodes.emplace_back(static_cast<NodeId>(n));
  }
  bool Active(const SimNode& n) const {
    const LocalState s = n.agent.state("r");
    return s == LocalState::kStarting || s == LocalState::kRunning ||
           s == LocalState::kMonitoring || s == LocalState::kStopping || s == LocalState::kBlocked;
  }
  RegistryView View() const {
    RegistryView v;
    ResourceSpec s;
    s.name = "r";
    s.agent = "heartbeat:Dummy";
    s.monitor_interval = Duration::Millis(300);
    s.migration_threshold = 0;
    v.specs["r"] = s;
    v.placed["r"] = placed;
    if (owner) v.owners["r"] = *owner;
    return v;
  }
  void ExpireLeases(int64_t now) {
    for (auto it = leases.begin(); it != leases.end();) {
      // etcd revokes an expired lease some time after its expiry (its check runs every 500 ms).
      if (now >= it->second + static_cast<int64_t>(prng.Below(500))) {
        if (owner && owner->second == it->first) owner.reset();
        it = leases.erase(it);
      } else {
        ++it;
      }
    }
  }
  void Renew(SimNode& n, int64_t now, bool faults) {
    if (now < n.next_renew) return;
    n.next_renew = now + kRenewEveryMs;
    if (!n.connected) return;
    const int64_t sent = now;
    const int64_t arrives = sent + static_cast<int64_t>(prng.Below(faults ? 300 : 20));
    if (n.lease == 0 || leases.count(n.lease) == 0) {
      if (n.lease != 0) n.agent.LeaseLost();
      n.lease = next_lease++;
      leases[n.lease] = arrives + kTtlMs;
    } else {
      leases[n.lease] = std::max(leases[n.lease], arrives + kTtlMs);
    }
    n.agent.LeaseValid(n.lease, Ms(sent + kTtlMs));
  }
  void Finish(SimNode& n, int64_t now, bool faults) {
    if (!n.busy || now < n.busy->second) return;
    const ActionKind kind = n.busy->first;
    n.busy.reset();
    switch (kind) {
      case ActionKind::kStart:
        n.agent.Started("r", !faults || prng.Below(10) != 0, Ms(now));
        break;
      case ActionKind::kMonitor:
        n.agent.Monitored(
            "r",
            !faults || prng.Below(8) != 0 ? MonitorResult::kRunning : MonitorResult::kNotRunning,
            Ms(now));
        break;
      case ActionKind::kStop:
        n.agent.Stopped("r", true);
        break;
      default:
        break;
    }
  }
  void Carry(SimNode& n, NodeId id, const Action& a, int64_t now) {
    switch (a.kind) {
      case ActionKind::kAcquire: {
        const bool ok = n.connected && !owner && leases.count(n.lease) != 0;
        if (ok) owner = std::make_pair(id, n.lease);
        n.agent.Acquired("r", ok);
        break;
      }
      case ActionKind::kRelease:
        if (n.connected && owner && owner->first == id) owner.reset();
        n.agent.Released("r");
        break;
      case ActionKind::kStart:
        n.busy = std::make_pair(a.kind, now + static_cast<int64_t>(prng.Below(300)));
        break;
      case ActionKind::kMonitor:
        n.busy = std::make_pair(a.kind, now + static_cast<int64_t>(prng.Below(100)));
        break;
      case ActionKind::kStop:
        n.busy = std::make_pair(a.kind, now + static_cast<int64_t>(prng.Below(kMaxStopMs)));
        break;
      case ActionKind::kRecordFailure:
        ++failures;
        break;
      case ActionKind::kReport:
        break;
    }
  }
  void Tick(int64_t now, bool faults) {
    ExpireLeases(now);
    if (faults && prng.Below(100) == 0) placed = static_cast<NodeId>(1 + prng.Below(kNodes));
    for (int i = 0; i < kNodes; ++i) {
      SimNode& n = nodes[i];
      const NodeId id = static_cast<NodeId>(i + 1);
      if (faults && prng.Below(200) == 0) n.connected = !n.connected;
      if (!faults) n.connected = true;
      Renew(n, now, faults);
      Finish(n, now, faults);
      if (n.connected) n.agent.SetView(View());  // a cut-off node's view goes stale
      if (n.busy) continue;
      for (const Action& a : n.agent.Decide(Ms(now))) Carry(n, id, a, now);
    }
  }
};

TEST(OwnershipTest, NeverActiveOnTwoNodesAndRunsOnceFaultsStop) {
  for (uint64_t seed = 1; seed <= 1000; ++seed) {
    World w(seed);
    for (int64_t now = 0; now < 30'000; now += 10) {
      w.Tick(now, now < 20'000);
      int active = 0;
      for (const SimNode& n : w.nodes) active += w.Active(n) ? 1 : 0;
      ASSERT_LE(active, 1) << "seed " << seed << " at " << now << " ms";
    }
    const LocalState s = w.nodes[w.placed - 1].agent.state("r");
    EXPECT_TRUE(s == LocalState::kRunning || s == LocalState::kMonitoring ||
                s == LocalState::kStarting)
        << "seed " << seed << ": on node " << w.placed << " it is " << StateName(s);
  }
}

}  // namespace
}  // namespace cohort::resources
