// HierarchySim: a tree of clusters (M14) over one virtual clock and network, from one seed.
//
// A shape such as 22x22x21 (top first) builds 22×22 leaf clusters of 21 daemons, 22
// clusters of 22 sub-cluster nodes above them, and a root of 22. Each daemon runs a leaf
// MembershipCore; the daemon supervising a cluster also runs that cluster's node in the
// parent cluster (a MembershipCore and a RepresentationCore), so a daemon supervising at
// every level runs one instance per level. The instances are the production cores; this
// file only routes their bytes: a cluster's broadcasts reach that cluster's instances only.
//
// A parent-level node is a slot: when a cluster's supervisor changes, the new supervisor's
// daemon takes the slot over with a higher incarnation (the old one's instance stops — the
// simulator does not model a sub-cluster split in two), and joins as the same node. A
// message to a slot reaches whichever instance holds it when it arrives (the real daemon
// announces its entry at the newer incarnation to the cluster's members first, modelled as one
// datagram to each, on which a member that followed the old holder as its supervisor hands
// the new one its map: MembershipCore::OnPeerRestarted). Parent levels run slower
// timings (period and notification time × level_factor per level), so a sub-cluster's
// takeover ends before its parent could notice its representative's silence.
//
// Every instance also runs a ViewCore: each supervisor sends its members the levels above
// them, so every daemon can show the path to the root (ViewsBehind measures it).
//
// Checkers run after every step: map versions never go back in an instance, no live daemon
// is marked failed in its leaf cluster, and no sub-cluster node is marked failed at its
// parent while a daemon of that sub-cluster lives (a false sub-cluster failure: the parent
// must see a change of representative, not a failure). Single-threaded.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/prng.h"
#include "hierarchy/aggregate.h"
#include "hierarchy/representation.h"
#include "hierarchy/view.h"
#include "membership/core.h"
#include "sim/node_events.h"

namespace cohort::sim {

// "22x22x21" -> {22, 22, 21}: top first, the last is the daemons per leaf cluster. Each
// number 2..255, two to four levels, at most 60,000 daemons and 65,000 instances (daemons
// and parent-level nodes); nullopt otherwise.
std::optional<std::vector<int>> ParseShape(const std::string& text);
std::string ShapeText(const std::vector<int>& shape);

struct HierarchySimOptions {
  std::vector<int> shape = {3, 4};
  uint64_t seed = 1;
  Duration latency_min = Duration::Micros(200);
  Duration latency_max = Duration::Millis(2);
  double loss = 0.0;                          // share of datagrams lost, at every level
  membership::MembershipOptions leaf_timing;  // period, miss_limit, notify at the leaves
  int level_factor = 3;                       // each level up: period and notify × this
  uint32_t capacity_mbps = 1000;              // each daemon's stated streaming capacity
};

// Every datagram on the wire also carries the seal (26-byte header, 16-byte tag) and the
// IPv4 and UDP headers (28 bytes); the traffic figures count them. The daemon's
// cohort_transport_bytes_sent_total counts sealed datagrams, without the IP and UDP headers.
inline constexpr uint64_t kSealOverhead = 26 + 16;
inline constexpr uint64_t kIpUdpHeaders = 28;
inline constexpr uint64_t kDatagramOverhead = kSealOverhead + kIpUdpHeaders;

class HierarchySim {
 public:
  explicit HierarchySim(HierarchySimOptions options);

  using Slot = uint16_t;  // an instance's place: (level, cluster, member id)
  struct Cluster {
    int level = 0;
    int index = 0;
  };

  Instant now() const { return now_; }
  int levels() const { return static_cast<int>(options_.shape.size()); }
  int daemons() const { return daemons_; }
  int clusters(int level) const { return levels_[level].clusters; }
  const std::vector<int>& shape() const { return options_.shape; }

  void StartAll(Duration stagger);
  bool RunUntilTrue(const std::function<bool()>& done, Duration limit);
  void RunFor(Duration d) {
    RunUntilTrue([] { return false; }, d);
  }
  // Ends every instance daemon `d` runs.
  void Crash(int d);
  bool alive(int d) const { return alive_[d]; }
  int live_daemons() const;

  // The daemon holding `c`'s supervisor instance (-1 if none), and the first daemon of `c`.
  int SupervisorDaemon(Cluster c) const;
  int FirstDaemon(Cluster c) const;
  int DaemonsPer(int level) const { return levels_[level].daemons_per_cluster; }
  // The cluster above `c` (REQUIRES: not the root) and the leaf cluster of daemon `d`.
  Cluster Parent(Cluster c) const;
  Cluster LeafOf(int d) const;
  // The cluster of `level` daemon `d` is under.
  Cluster AncestorOf(int d, int level) const;

  // Every cluster of `level` (every level when -1) whose subtree has a live daemon has one
  // supervisor — its highest-priority live node — and every such node up, at its current
  // incarnation and one map version, in every member's map.
  bool Stable(int level = -1) const;
  // Why not Stable(), for the first cluster that is not ("" when every one is).
  std::string Unstable() const;
  // `c`'s node at the parent, as the parent's supervisor's map shows it: its state and
  // incarnation (nullopt while the parent has no supervisor or does not list it).
  std::optional<membership::Member> AtParent(Cluster c) const;
  Incarnation SlotIncarnation(Cluster c) const;  // of `c`'s node at the parent
  // Daemon `d` is marked failed in its leaf cluster's supervisor's map.
  bool LeafMarkedFailed(int d) const;
  // The root's aggregate, as its supervisor last computed it.
  std::optional<hierarchy::Aggregate> RootAggregate() const;
  // What the root aggregate should say: every daemon counted, the live ones up.
  hierarchy::Aggregate Truth() const;
  // Live daemons that are members (not supervisors) of their leaf cluster whose view of
  // the levels above does not yet show the root as its supervisor has it now (its map
  // version and its aggregate).
  int ViewsBehind() const;

  const std::vector<std::string>& violations() const { return violations_; }
  uint64_t trace_digest() const { return trace_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }
  // Times a parent's supervisor, dying with its daemon, was marked failed by its successor
  // while its sub-cluster lived (a known limit, not a violation).
  uint64_t supervisor_nodes_failed() const { return supervisor_nodes_failed_; }
  // Bytes sent by each daemon (all its instances, wire overhead included) since the start.
  const std::vector<uint64_t>& bytes_sent() const { return bytes_; }
  // Datagrams sent by each daemon since the start.
  const std::vector<uint64_t>& datagrams_sent() const { return datagrams_; }

 private:
  struct Level {
    int cluster_size = 0;  // members of each cluster of this level
    int clusters = 0;
    int daemons_per_cluster = 0;  // leaf daemons under one cluster of this level
    Slot first_slot = 0;
  };
  struct Instance {
    Cluster cluster;
    NodeId id = kNoNode;  // in its cluster
    int host = -1;        // the daemon running it
    std::unique_ptr<membership::MembershipCore> core;
    std::unique_ptr<hierarchy::RepresentationCore> rep;  // at levels above the leaves
    std::unique_ptr<hierarchy::ViewCore> view;           // the tree sent down
    Incarnation incarnation = 0;
    uint64_t timer_generation = 0;
    uint64_t last_version = 0;
    uint64_t aggregated_version = 0;
    membership::ClusterMap last_map;                // as of its previous step
    std::optional<hierarchy::Aggregate> aggregate;  // of its cluster, while supervising
    std::vector<membership::UsageRow> usage;        // its cluster's, while supervising
    Instant next_usage;
  };
  struct Message {
    uint8_t channel = 0;
    std::shared_ptr<const wire::Bytes> bytes;
  };
  using Events = NodeEvents<Message>;

  Slot SlotOf(Cluster c, NodeId id) const;
  Slot ParentSlot(Cluster c) const;
  Cluster Represented(Slot s) const;  // REQUIRES: the slot is above the leaves
  void StartInstance(Slot s, int host);
  void StopInstance(Slot s);
  void AnnounceEntry(Slot s);
  void Route(Slot from, membership::Outputs& out, uint8_t channel);
  void Deliver(Slot from, Slot to, Message m);
  void ArmTimer(Slot s);
  void Step(const Events::Event& e);
  void AfterStep(Slot s);
  void Represent(Slot s);
  void CheckFailures(Slot s, const membership::ClusterMap& map);
  // Whether `s`, supervising its cluster, takes its cluster's parent slot from its holder.
  bool TakesParentSlot(Slot s) const;
  // The tree sent down: the levels from `s`'s up as its daemon knows them, those above it,
  // and what a supervisor at `s` sends its members; RefreshViews resends on a change.
  std::vector<hierarchy::LevelView> Up(Slot s) const;
  std::vector<hierarchy::LevelView> Above(Slot s) const;
  void RefreshViews(int host);
  bool SubtreeAlive(Cluster c) const;
  bool ClusterStable(Cluster c) const;
  std::string Unstable(Cluster c) const;

  HierarchySimOptions options_;
  Prng prng_;
  std::vector<Level> levels_;  // by level, leaves first
  int daemons_ = 0;
  Instant now_ = Instant::FromNanos(1'000'000'000);
  std::vector<Instance> slots_;
  std::vector<bool> alive_;
  std::vector<int> alive_under_;  // per leaf cluster: live daemons
  Events events_;
  std::vector<std::string> violations_;
  uint64_t trace_ = 0xcbf29ce484222325ULL;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
  uint64_t supervisor_nodes_failed_ = 0;
  std::vector<uint64_t> bytes_;
  std::vector<uint64_t> datagrams_;
};

}  // namespace cohort::sim
