// MembershipSim: many MembershipCores over a virtual clock and network, from one seed.
//
// Messages get a latency in [latency_min, latency_max] (so they reorder) and may be lost;
// partitions split the nodes into sides; Crash/Restart (new incarnation), Leave and Pause
// (a stalled event loop: the node handles nothing until it resumes) model real failures.
// Broadcasts go to every other node, as the daemon's bus goes to every node of the address
// table. Timers live in a heap, so a step costs O(log N) and 1,000 nodes stay tractable.
//
// Checkers run after every step: map versions never go back on any node, and — while loss
// is at most 5% and no partition is in force — the supervisor never marks failed a live
// node that has not stalled for miss_limit periods or more (a false positive). Violations are
// recorded in violations(). A supervisor never declares a disk failed unless several nodes'
// paths to it have been broken. Single-threaded.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/prng.h"
#include "membership/core.h"
#include "sim/node_events.h"

namespace cohort::sim {

struct MembershipSimOptions {
  int nodes = 5;
  uint64_t seed = 1;
  Duration latency_min = Duration::Micros(200);
  Duration latency_max = Duration::Millis(2);
  double loss = 0.0;
  membership::MembershipOptions timing;  // period, miss_limit, notify for every node
};

class MembershipSim {
 public:
  explicit MembershipSim(MembershipSimOptions options);

  Instant now() const { return now_; }
  // Starts node `id` now (nodes start stopped).
  void Start(NodeId id);
  void StartAll(Duration stagger);
  bool RunUntilTrue(const std::function<bool()>& done, Duration limit);
  void RunFor(Duration d) {
    RunUntilTrue([] { return false; }, d);
  }

  void Crash(NodeId id);
  void Restart(NodeId id);
  void Leave(NodeId id);
  void Pause(NodeId id, Duration d);
  void Partition(const std::set<NodeId>& side_a);
  // M11: node `id`'s access path to `disk` (one of timing.disks) breaks or is repaired. The
  // node's check sees it at once; a node started later sees it on its first check.
  void SetPathBroken(NodeId id, const std::string& disk, bool broken);
  void Heal() {
    side_.clear();
    healed_at_ = now_;
  }
  void SetLoss(double p) { options_.loss = p; }

  bool alive(NodeId id) const { return nodes_.at(id).core != nullptr; }
  membership::MembershipCore& core(NodeId id) { return *nodes_.at(id).core; }
  std::vector<NodeId> ids() const;
  std::vector<NodeId> live() const;

  // One supervisor per connected component — its highest-priority live node — and every
  // live node of the component up, with its current incarnation, in every member's map.
  bool Stable() const;
  // Every live node's map shows `id` (at incarnation `inc`) failed or left.
  bool MarkedEverywhere(NodeId id, Incarnation inc, membership::MemberState state) const;
  // Every live node's map shows `disk` in `state`, and `node`'s path to it in `path`
  // (no path check when node is kNoNode).
  bool DiskEverywhere(const std::string& disk, membership::DiskState state, NodeId node = kNoNode,
                      membership::PathState path = membership::PathState::kOk) const;
  Incarnation incarnation(NodeId id) const { return nodes_.at(id).incarnation; }
  NodeId TopPriority(const std::vector<NodeId>& among) const;

  const std::vector<std::string>& violations() const { return violations_; }
  uint64_t trace_digest() const { return trace_; }
  uint64_t delivered() const { return delivered_; }
  // Messages lost to loss, partitions or a receiver that is down when they arrive.
  uint64_t dropped() const { return dropped_; }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Node {
    std::unique_ptr<membership::MembershipCore> core;
    Incarnation incarnation = 0;
    Instant paused_until;
    uint64_t timer_generation = 0;
    uint64_t last_version = 0;
    bool leaving = false;
    bool stalled = false;  // paused for miss_limit periods or more in this incarnation
    membership::ClusterMap last_supervised;  // the map as this node last published it
  };
  using Events = NodeEvents<std::shared_ptr<const wire::Bytes>>;

  void Route(NodeId from, membership::Outputs& out);
  void Deliver(NodeId from, NodeId to, std::shared_ptr<const wire::Bytes> bytes);
  void ArmTimer(NodeId id);
  void Step(Events::Event e, membership::Outputs& out);
  void AfterStep(NodeId id);
  bool Connected(NodeId a, NodeId b) const;

  MembershipSimOptions options_;
  Prng prng_;
  Instant now_ = Instant::FromNanos(1'000'000'000);
  std::map<NodeId, Node> nodes_;
  Events events_;
  std::map<NodeId, int> side_;
  std::set<std::pair<NodeId, std::string>> broken_paths_;
  std::map<std::string, std::set<NodeId>> ever_broken_;  // per disk, for the disk checker
  Instant healed_at_;
  std::vector<std::string> violations_;
  uint64_t trace_ = 0xcbf29ce484222325ULL;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace cohort::sim
