// ResourcesSim: the resource manager's own decisions — a LocalAgent on every node, Place on
// the supervisor — over a modelled registry with leases, a modelled membership and actions
// that take random times, on a virtual clock in 10 ms steps, from one seed.
//
// The registry grants leases (a renewal's reply tells the agent the lease is alive until its
// send time + TTL; the registry ends it at its arrival + TTL, plus up to 500 ms for etcd's
// expiry check), keeps owner keys with the lease they were put with, and answers only nodes
// not cut off. The membership is modelled: the supervisor is the lowest node up and not cut
// off, and it sees a node crashed or cut off as down `detect_ms` after the fact. A crash
// ends the machine: what ran there is gone. A cut-off node keeps running what it runs until
// its agent's fence stops it; its view of the registry goes stale.
//
// With fast takeover (`alive_ttl_ms` > 0) each node also renews its alive key by
// compare-and-swap (some answers lost), every node times each alive key from when it first
// saw its revision, and owner keys are taken over on those revisions (resources/agent.h).
//
// The checker runs at every step: no resource is active (starting, running, monitoring,
// stopping or blocked) on two nodes at once. Settled() is the termination check once the
// faults are over: every resource runs where placement puts it, and nowhere else.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/prng.h"
#include "resources/agent.h"
#include "resources/placement.h"

namespace cohort::sim {

struct ResourcesSimOptions {
  int nodes = 5;
  uint64_t seed = 1;
  int resources = 0;  // 0: nodes + 2
  int64_t ttl_ms = 1000;
  int64_t renew_ms = 125;
  int64_t margin_ms = 500;
  int64_t detect_ms = 400;
  // Actions' longest durations: a stop fits in the margin (a start or monitor under way at
  // the fence is cancelled; docs/design/resources.md, "Margins").
  int64_t max_start_ms = 150;
  int64_t max_monitor_ms = 100;
  int64_t max_stop_ms = 300;
  double monitor_failure = 0.0;  // chance that a monitor finds the resource not running
  // Fast takeover: 0 off. The dev cluster's settings (cli/dev.cc) with it on.
  int64_t alive_ttl_ms = 0;
  int64_t alive_renew_ms = 75;
  double alive_answer_lost = 0.05;  // chance that an alive renewal's answer never comes
};

class ResourcesSim {
 public:
  explicit ResourcesSim(ResourcesSimOptions options);

  int64_t now_ms() const { return now_; }
  // Runs until `done` (checked every step) or a violation, at most `limit_ms`.
  bool RunUntil(const std::function<bool()>& done, int64_t limit_ms);
  void RunFor(int64_t ms) {
    RunUntil([] { return false; }, ms);
  }

  // ---- faults ----
  void Crash(NodeId node);
  void Restart(NodeId node);
  // `minority` cut off from the registry and the other nodes (empty: healed).
  void Partition(const std::set<NodeId>& minority);
  void SetDisk(NodeId node, bool ok);
  void SetMonitorFailure(double p) { options_.monitor_failure = p; }

  // ---- what happens ----
  bool alive(NodeId node) const { return nodes_.at(node).agent != nullptr; }
  NodeId supervisor() const;  // the lowest node up and not cut off; kNoNode if none
  // Where `name` runs (running or monitoring), or kNoNode.
  NodeId RunningOn(const std::string& name) const;
  std::vector<std::string> RunningAt(NodeId node) const;
  const std::vector<std::string>& violations() const { return violations_; }
  // Faults over: every resource runs where Place puts it, and is active nowhere else.
  bool Settled(std::string* why = nullptr) const;
  uint64_t trace() const { return trace_; }
  uint64_t actions() const { return actions_; }

 private:
  struct Busy {
    resources::ActionKind kind;
    int64_t ends = 0;
    bool cancelled = false;  // killed at the fence: it ends unsuccessful
  };
  struct Node {
    std::unique_ptr<resources::LocalAgent> agent;  // null while crashed
    bool cut = false;
    bool disk_ok = true;
    int64_t lease = 0;
    int64_t next_renew = 0;
    int64_t down_since = -1;  // crashed or cut off since (the supervisor's detection)
    int64_t next_alive = 0;
    int64_t alive_lease = 0;                             // the lease its alive key is for
    int64_t alive_revision = 0;                          // as its last answer said (0: to be put)
    std::map<NodeId, std::pair<int64_t, int64_t>> seen;  // alive key -> revision, first seen
    std::map<std::string, Busy> busy;                    // the action under way, per resource
  };
  struct AliveKey {
    int64_t lease = 0;
    int64_t revision = 0;
    bool taken = false;
  };
  struct Lease {
    int64_t expiry = 0;     // arrival of the last renewal + TTL
    int64_t check_lag = 0;  // etcd's expiry check runs this long after
  };

  void Step();
  void ExpireLeases();
  void PlaceAsSupervisor();
  resources::PlacementInput Facts() const;
  resources::RegistryView View() const;
  // View() with the alive keys as `n` has seen them.
  resources::RegistryView ViewOf(Node& n, const resources::RegistryView& common);
  void Renew(NodeId id, Node& n);
  void RenewAlive(NodeId id, Node& n);
  void EndLease(int64_t lease);
  void TakeOver(NodeId id, Node& n, const std::string& name);
  std::unique_ptr<resources::LocalAgent> NewAgent(NodeId id) const;
  void Finish(NodeId id, Node& n);
  void Carry(NodeId id, Node& n, const resources::Action& a);
  void Check();
  void Trace(uint64_t v) { trace_ = (trace_ ^ v) * 0x100000001b3ull; }
  bool NeedsDisk(const std::string& name) const;
  Instant Now() const { return Instant::FromNanos(now_ * 1'000'000); }

  ResourcesSimOptions options_;
  Prng prng_;
  int64_t now_ = 0;
  std::map<NodeId, Node> nodes_;
  std::map<std::string, resources::ResourceSpec> specs_;
  // The registry.
  std::map<int64_t, Lease> leases_;
  int64_t next_lease_ = 1;
  std::map<std::string, std::pair<NodeId, int64_t>> owners_;
  std::map<NodeId, AliveKey> alive_;
  int64_t revision_ = 0;
  std::map<std::string, NodeId> placed_;
  std::map<std::string, std::map<NodeId, uint32_t>> fails_;
  std::map<std::string, std::map<NodeId, resources::LocalState>> reported_;
  std::vector<std::string> violations_;
  uint64_t trace_ = 0xcbf29ce484222325ull;
  uint64_t actions_ = 0;
};

}  // namespace cohort::sim
