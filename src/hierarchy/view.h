// ViewCore: the tree sent down (M14), sans-I/O. One instance per level membership a daemon
// takes part in — its own cluster, and each level above it holds a node in.
//
// Intuition. Representation carries figures up, one message per level; a member of a level
// therefore knows its own level's map but nothing above it. So each level's supervisor
// sends its members the levels above them as it knows them (ViewMsg): a cluster's
// supervisor sends its members the parent's view; a parent's supervisor sends its members
// (the clusters' holders) its own level with its members' aggregates, and what it knows
// of the levels above it. Every node can then show the whole path to the root. A view is
// sent when it changes, at most once per min_interval (it is for operators, not for
// decisions), and resent every `resend` to each member that has not acknowledged it; a
// member that joins or restarts (a new incarnation) is sent it at once. Nothing is sent
// while nothing changes. A member takes views only from the supervisor its map names,
// newest by (incarnation, seq), and acknowledges every copy.
//
// Contract as for every core: inputs take `now`, outputs go to a caller-owned Outputs,
// NextDeadline() says when Tick() is due. Single-threaded.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "hierarchy/messages.h"
#include "membership/core.h"

namespace cohort::hierarchy {

struct ViewOptions {
  NodeId self = kNoNode;
  Incarnation incarnation = 0;
  Duration min_interval = Duration::Millis(250);
  Duration resend = Duration::Seconds(1);
};

class ViewCore {
 public:
  explicit ViewCore(ViewOptions options);

  // This level's map: whose views this node takes (its supervisor) and, when this node
  // supervises, whom it sends them to (the members up or joining, itself left out).
  void SetMap(Instant now, const membership::ClusterMap& map, membership::Outputs& out);
  // As supervisor: the levels above the members, nearest first.
  void SetDown(Instant now, std::vector<LevelView> levels, membership::Outputs& out);
  void OnMessage(Instant now, NodeId from, wire::ByteView bytes, membership::Outputs& out);
  void Tick(Instant now, membership::Outputs& out);
  Instant NextDeadline() const;

  struct Received {
    NodeId from = kNoNode;
    Incarnation incarnation = 0;
    uint64_t seq = 0;
    std::vector<LevelView> levels;
    Instant at;
  };
  // The newest view this node's supervisor sent it (kept through a change of supervisor,
  // until the new one sends its own).
  const std::optional<Received>& received() const { return received_; }

  struct Metrics {
    uint64_t sent = 0;      // views sent, resends included
    uint64_t accepted = 0;  // views taken
    uint64_t stale = 0;     // older than the view held
    uint64_t ignored = 0;   // from a node this node's map does not name its supervisor, or bad
  };
  const Metrics& metrics() const { return metrics_; }

 private:
  void Flush(Instant now, membership::Outputs& out);
  bool Pending() const;  // a target has not acknowledged the current view

  ViewOptions options_;
  NodeId supervisor_ = kNoNode;
  struct Target {
    Incarnation incarnation = 0;  // the member's, as the map lists it
    uint64_t acked = 0;           // the newest view seq it acknowledged
  };
  std::map<NodeId, Target> targets_;  // while supervising
  std::optional<std::vector<LevelView>> down_;
  uint64_t seq_ = 0;
  Instant last_sent_ = Instant::FromNanos(0);
  Instant next_send_ = Instant::Max();
  std::optional<Received> received_;
  Metrics metrics_;
};

// A level's view as a node of it sees it: its map, with the aggregates this node keeps for
// its members (none when it keeps none) and the level's own.
LevelView ViewOf(const membership::ClusterMap& map, const std::map<NodeId, Aggregate>& aggregates,
                 const std::optional<Aggregate>& level);

}  // namespace cohort::hierarchy
