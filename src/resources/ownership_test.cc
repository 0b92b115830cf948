// One resource, three nodes, a registry with leases, and faults: nodes cut off from the
// registry for random spells, renewals and answers delayed, placement changing under them,
// monitors failing, actions taking random times. Over 1,000 seeds: the resource is never
// possibly active on two nodes at once, and once the faults stop it runs somewhere. The same
// with fast takeover (alive keys renewed by compare-and-swap, answers lost, nodes crashing)
// and a promotable resource (promoted once started, demoted before its stop).
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

#include "base/prng.h"
#include "base/test_seeds.h"
#include "resources/agent.h"

namespace cohort::resources {
namespace {

constexpr int kNodes = 3;
constexpr int64_t kTtlMs = 2000;
constexpr int64_t kRenewEveryMs = 250;
constexpr int64_t kMarginMs = 600;
constexpr int64_t kMaxStopMs = 400;  // stops are bounded below the margin (docs: margins)
constexpr int64_t kAliveTtlMs = 1000;
constexpr int64_t kAliveEveryMs = 100;

Instant Ms(int64_t ms) { return Instant::FromNanos(ms * 1'000'000); }

struct SimNode {
  LocalAgent agent;
  int64_t lease = 0;
  bool connected = true;
  bool crashed = false;  // the daemon is dead: nothing of it runs
  int64_t next_renew = 0;
  int64_t next_alive = 0;
  int64_t alive_revision = 0;  // of this node's alive key, as its last answer said
  std::map<NodeId, std::pair<int64_t, int64_t>> seen;  // alive key -> revision, first seen
  // What the view last given to the agent was made of: the same again is not given again.
  std::optional<
      std::tuple<NodeId, std::optional<std::pair<NodeId, int64_t>>, std::map<NodeId, AliveView>>>
      last_view;
  // The action under way: what, and when it ends; cancelled: it ends then, unsuccessful.
  std::optional<std::pair<ActionKind, int64_t>> busy;
  bool cancelled = false;
  SimNode(NodeId id, int64_t alive_ttl_ms)
      : agent(id, Duration::Millis(kMarginMs), Duration::Millis(alive_ttl_ms)) {}
};

struct AliveKey {
  int64_t lease = 0;
  int64_t revision = 0;
  bool taken = false;
};

struct World {
  Prng prng;
  int64_t alive_ttl_ms;
  std::vector<SimNode> nodes;
  std::map<int64_t, int64_t> leases;  // id -> expiry at the registry
  std::optional<std::pair<NodeId, int64_t>> owner;
  std::map<NodeId, AliveKey> alive;
  int64_t revision = 0;
  NodeId placed = 1;
  int64_t next_lease = 1;
  uint32_t failures = 0;
  bool revive = true;  // a crashed node comes back once the faults stop
  bool promotable = false;
  bool hang = false;  // a tenth of starts and monitors take up to three lease TTLs
  World(uint64_t seed, int64_t alive_ttl) : prng(seed), alive_ttl_ms(alive_ttl) {
    for (int n = 1; n <= kNodes; ++n) nodes.emplace_back(static_cast<NodeId>(n), alive_ttl_ms);
  }
  bool Active(const SimNode& n) const {
    if (n.crashed) return false;  // its processes died with it
    const LocalState s = n.agent.state("r");
    return s == LocalState::kStarting || s == LocalState::kRunning ||
           s == LocalState::kMonitoring || s == LocalState::kPromoting ||
           s == LocalState::kDemoting || s == LocalState::kStopping || s == LocalState::kBlocked;
  }
  RegistryView View() const {
    RegistryView v;
    ResourceSpec s;
    s.name = "r";
    s.agent = "heartbeat:Dummy";
    s.monitor_interval = Duration::Millis(300);
    s.migration_threshold = 0;
    s.promotable = promotable;
    v.specs["r"] = s;
    v.placed["r"] = placed;
    if (owner) v.owners["r"] = *owner;
    return v;
  }
  // The view as `n` sees it now, given to its agent only when it changed: building and
  // copying it every 10 ms on every node is most of this test's time under the sanitizers.
  void GiveView(SimNode& n, int64_t now) {
    if (n.last_view && std::get<0>(*n.last_view) == placed && std::get<1>(*n.last_view) == owner &&
        std::equal(alive.begin(), alive.end(), n.seen.begin(), n.seen.end(),
                   [](const auto& key, const auto& seen) {
                     return key.first == seen.first && key.second.revision == seen.second.first;
                   })) {
      return;  // nothing new: no allocation at all (the common case)
    }
    std::map<NodeId, std::pair<int64_t, int64_t>> seen;
    std::map<NodeId, AliveView> seen_alive;
    for (const auto& [id, key] : alive) {
      auto was = n.seen.find(id);
      const bool same = was != n.seen.end() && was->second.first == key.revision;
      seen[id] = {key.revision, same ? was->second.second : now};
      seen_alive[id] = {key.lease, key.revision, key.taken, Ms(seen[id].second)};
    }
    n.seen = std::move(seen);
    auto made_of = std::make_tuple(placed, owner, seen_alive);
    if (n.last_view == made_of) return;
    n.last_view = made_of;
    RegistryView v = View();
    v.alive = std::move(seen_alive);
    n.agent.SetView(std::move(v));
  }
  void EndLease(int64_t lease) {
    if (owner && owner->second == lease) owner.reset();
    for (auto it = alive.begin(); it != alive.end();) {
      it = it->second.lease == lease ? alive.erase(it) : std::next(it);
    }
    leases.erase(lease);
  }
  void ExpireLeases(int64_t now) {
    for (auto it = leases.begin(); it != leases.end();) {
      // etcd revokes an expired lease some time after its expiry (its check runs every 500 ms).
      if (now >= it->second + static_cast<int64_t>(prng.Below(500))) {
        const int64_t lease = it->first;
        ++it;
        EndLease(lease);
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
      n.alive_revision = 0;
      leases[n.lease] = arrives + kTtlMs;
    } else {
      leases[n.lease] = std::max(leases[n.lease], arrives + kTtlMs);
    }
    n.agent.LeaseValid(n.lease, Ms(sent + kTtlMs));
  }
  // The alive key, by compare-and-swap on its revision (a create first); an answer may be lost.
  // A failed swap reads the key: still this node's (a lost answer) or gone/taken (lost).
  void RenewAlive(SimNode& n, NodeId id, int64_t now, bool faults) {
    if (alive_ttl_ms == 0 || now < n.next_alive || !n.connected || n.lease == 0) return;
    n.next_alive = now + kAliveEveryMs;
    if (leases.count(n.lease) == 0) return;  // Renew grants a new lease
    auto it = alive.find(id);
    // A new lease's key is put as it is (as the daemon does); then swaps on its revision.
    const bool swapped = n.alive_revision == 0 || (it != alive.end() && !it->second.taken &&
                                                   it->second.revision == n.alive_revision);
    if (swapped) {
      alive[id] = {n.lease, ++revision, false};
      if (faults && prng.Below(6) == 0) return;  // the answer is lost
      n.alive_revision = revision;
      n.agent.AliveRenewed(n.lease, Ms(now));
    } else if (it != alive.end() && it->second.lease == n.lease && !it->second.taken) {
      n.alive_revision = it->second.revision;  // this node's own write: renewed next time
    } else {
      n.agent.LeaseLost();  // taken over: revoke the lease, grant another
      EndLease(n.lease);
      n.lease = 0;
      n.next_renew = now;
    }
  }
  void Finish(SimNode& n, int64_t now, bool faults) {
    if (!n.busy || now < n.busy->second) return;
    const ActionKind kind = n.busy->first;
    const bool killed = n.cancelled;
    n.busy.reset();
    n.cancelled = false;
    switch (kind) {
      case ActionKind::kStart:
        n.agent.Started("r", !killed && (!faults || prng.Below(10) != 0), Ms(now));
        break;
      case ActionKind::kMonitor: {
        const MonitorResult running =
            n.agent.promoted("r") ? MonitorResult::kRunningPromoted : MonitorResult::kRunning;
        n.agent.Monitored("r",
                          killed                          ? MonitorResult::kFailed
                          : !faults || prng.Below(8) != 0 ? running
                                                          : MonitorResult::kNotRunning,
                          Ms(now));
        break;
      }
      case ActionKind::kPromote:
        n.agent.Promoted("r", !killed && (!faults || prng.Below(10) != 0), Ms(now));
        break;
      case ActionKind::kDemote:
        n.agent.Demoted("r", true);
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
      case ActionKind::kTakeOver: {
        // On the revisions this node saw: the owner key and its holder's alive key unchanged.
        const RegistryView& v = n.agent.view();
        const auto held = v.owners.find("r");
        bool ok = n.connected && held != v.owners.end() && owner == held->second &&
                  leases.count(n.lease) != 0;
        if (ok) {
          const NodeId holder = held->second.first;
          const auto seen = v.alive.find(holder);
          const auto now_key = alive.find(holder);
          ok = seen != v.alive.end() && now_key != alive.end() &&
               now_key->second.revision == seen->second.revision;
          if (ok) {
            owner = std::make_pair(id, n.lease);
            now_key->second.taken = true;
            now_key->second.revision = ++revision;
          }
        }
        n.agent.Acquired("r", ok);
        break;
      }
      case ActionKind::kRelease:
        if (n.connected && owner && owner->first == id) owner.reset();
        n.agent.Released("r");
        break;
      case ActionKind::kStart:
        n.busy = std::make_pair(a.kind, now + Lasts(300));
        break;
      case ActionKind::kMonitor:
        n.busy = std::make_pair(a.kind, now + Lasts(100));
        break;
      case ActionKind::kPromote:
      case ActionKind::kDemote:
        n.busy = std::make_pair(a.kind, now + static_cast<int64_t>(prng.Below(80)));
        break;
      case ActionKind::kStop:
        n.busy = std::make_pair(a.kind, now + static_cast<int64_t>(prng.Below(kMaxStopMs)));
        break;
      case ActionKind::kRecordFailure:
        ++failures;
        break;
      case ActionKind::kReport:
        break;
      case ActionKind::kCancel:
        // Killed at once: it ends at the next step, unsuccessful.
        if (n.busy && n.busy->first != ActionKind::kStop && n.busy->first != ActionKind::kDemote) {
          n.busy->second = now;
          n.cancelled = true;
        }
        break;
    }
  }
  // How long a start or monitor takes: up to `usual_ms`, or, where actions hang, a tenth of
  // them up to three lease TTLs.
  int64_t Lasts(int64_t usual_ms) {
    if (hang && prng.Below(10) == 0) return static_cast<int64_t>(prng.Below(3 * kTtlMs));
    return static_cast<int64_t>(prng.Below(usual_ms));
  }
  // A crash: the daemon and what it started are gone; it comes back as a new daemon.
  void Crash(SimNode& n, NodeId id) {
    n.crashed = !n.crashed;
    if (n.crashed) return;
    n.agent = LocalAgent(id, Duration::Millis(kMarginMs), Duration::Millis(alive_ttl_ms));
    n.lease = 0;
    n.alive_revision = 0;
    n.busy.reset();
    n.cancelled = false;
    n.seen.clear();
    n.last_view.reset();
  }
  void Tick(int64_t now, bool faults) {
    ExpireLeases(now);
    if (faults && prng.Below(100) == 0) placed = static_cast<NodeId>(1 + prng.Below(kNodes));
    for (int i = 0; i < kNodes; ++i) {
      SimNode& n = nodes[i];
      const NodeId id = static_cast<NodeId>(i + 1);
      if (faults && prng.Below(200) == 0) n.connected = !n.connected;
      if (!faults) n.connected = true;
      if (n.crashed && !faults && revive) {
        Crash(n, id);  // back once the faults stop
      } else if (alive_ttl_ms != 0 && faults && prng.Below(1000) == 0) {
        Crash(n, id);  // or come back
      }
      if (n.crashed) continue;
      Renew(n, now, faults);
      RenewAlive(n, id, now, faults);
      Finish(n, now, faults);
      if (n.connected) GiveView(n, now);  // a cut-off node's view goes stale
      // While an action is under way, the agent is asked only for a cancel (as the daemon
      // asks it on every event): one action at a time for the one resource.
      for (const Action& a : n.agent.Decide(Ms(now))) {
        if (!n.busy || a.kind == ActionKind::kCancel) {
          Carry(n, id, a, now);
        } else if (a.kind != ActionKind::kReport) {
          ADD_FAILURE() << "an action asked while another is under way: "
                        << static_cast<int>(a.kind);
        }
      }
    }
  }
};

void NeverActiveOnTwoNodesAndRunsOnceFaultsStop(int64_t alive_ttl_ms, bool promotable,
                                                bool hang = false) {
  for (uint64_t seed = 1; seed <= TestSeeds(1000); ++seed) {
    World w(seed, alive_ttl_ms);
    w.promotable = promotable;
    w.hang = hang;
    for (int64_t now = 0; now < 30'000; now += 10) {
      w.Tick(now, now < 20'000);
      int active = 0;
      for (const SimNode& n : w.nodes) active += w.Active(n) ? 1 : 0;
      ASSERT_LE(active, 1) << "seed " << seed << " at " << now << " ms";
    }
    const LocalState s = w.nodes[w.placed - 1].agent.state("r");
    EXPECT_TRUE(s == LocalState::kRunning || s == LocalState::kMonitoring ||
                s == LocalState::kStarting || s == LocalState::kPromoting)
        << "seed " << seed << ": on node " << w.placed << " it is " << StateName(s);
  }
}

TEST(OwnershipTest, NeverActiveOnTwoNodesAndRunsOnceFaultsStop) {
  NeverActiveOnTwoNodesAndRunsOnceFaultsStop(0, false);
}

TEST(OwnershipTest, APromotableResourceNeverActiveOnTwoNodesAndPromotedOnceFaultsStop) {
  NeverActiveOnTwoNodesAndRunsOnceFaultsStop(0, true);
}

TEST(OwnershipTest, FastTakeoverNeverActiveOnTwoNodesAndRunsOnceFaultsStop) {
  NeverActiveOnTwoNodesAndRunsOnceFaultsStop(kAliveTtlMs, true);
}

// Starts and monitors that hang past the lease (a tenth of them, up to three TTLs): the
// fence cancels them, so only the stop needs the margin.
TEST(OwnershipTest, ActionsThatHangAreCancelledAtTheFence) {
  NeverActiveOnTwoNodesAndRunsOnceFaultsStop(0, false, true);
  NeverActiveOnTwoNodesAndRunsOnceFaultsStop(kAliveTtlMs, true, true);
}

// A crashed owner's key is taken after the alive TTL, well before its registry lease ends.
TEST(OwnershipTest, FastTakeoverBeatsTheLease) {
  World w(7, kAliveTtlMs);
  int64_t now = 0;
  for (; now < 5'000; now += 10) w.Tick(now, false);
  ASSERT_EQ(w.nodes[0].agent.state("r"), LocalState::kRunning);
  w.revive = false;
  w.Crash(w.nodes[0], 1);
  w.placed = 2;
  const int64_t crashed_at = now;
  int64_t taken_at = -1;
  for (; now < crashed_at + 5'000 && taken_at < 0; now += 10) {
    w.Tick(now, false);
    if (w.owner && w.owner->first == 2) taken_at = now;
  }
  ASSERT_GE(taken_at, 0);
  EXPECT_LE(taken_at - crashed_at, kAliveTtlMs + 2 * kAliveEveryMs);
  EXPECT_LT(taken_at - crashed_at, kTtlMs);  // the registry's lease was still alive
}

}  // namespace
}  // namespace cohort::resources
