// RepresentationCore: carries a sub-cluster's aggregate to the supervisor of its parent
// cluster (M14), sans-I/O. One instance per parent-level membership: it runs wherever the
// sub-cluster's supervisor runs, as the node that stands for the sub-cluster.
//
// Intuition. The representative sends its aggregate to the parent's keepers — its
// supervisor and its deputy, the member that would succeed it — as soon as it changes (at
// most once per min_interval), again every resend until each acknowledged, and every
// refresh even when acknowledged. A new keeper is sent the aggregate at once. Keepers hold,
// per member, the newest aggregate by (incarnation, seq) — a successor representative has a
// higher incarnation, so a late datagram from its dead predecessor changes nothing — and
// acknowledge every copy. The deputy's copy is what lets a successor supervisor still count
// a sub-cluster that died with the old supervisor: nobody else could tell it its size. A
// leaf's failure reaches the root in one message per level, each sent the moment the level
// below re-aggregates.
//
// Contract as for every core: inputs take `now`, outputs go to a caller-owned Outputs,
// NextDeadline() says when Tick() is due. Single-threaded.
#pragma once

#include <map>
#include <optional>

#include "hierarchy/messages.h"
#include "membership/core.h"
#include "membership/types.h"

namespace cohort::hierarchy {

using membership::Outputs;

struct RepresentationOptions {
  NodeId self = kNoNode;  // this instance's id in the parent cluster
  Incarnation incarnation = 0;
  Duration min_interval = Duration::Millis(20);
  Duration resend = Duration::Millis(100);
  Duration refresh = Duration::Millis(2000);
};

class RepresentationCore {
 public:
  explicit RepresentationCore(RepresentationOptions options);

  // The aggregate of the sub-cluster this node stands for; sent if it changed.
  void SetOwn(Instant now, const Aggregate& aggregate, Outputs& out);
  // The supervisor of the parent cluster and its deputy, as this node's parent-level map
  // says (id kNoNode while there is none). A keeper's new incarnation is a new keeper: it
  // holds nothing yet.
  struct Keeper {
    NodeId id = kNoNode;
    Incarnation incarnation = 0;
  };
  void SetKeepers(Instant now, Keeper supervisor, Keeper deputy, Outputs& out);
  void OnMessage(Instant now, NodeId from, wire::ByteView bytes, Outputs& out);
  void Tick(Instant now, Outputs& out);
  Instant NextDeadline() const;

  struct Received {
    Incarnation incarnation = 0;
    uint64_t seq = 0;
    Aggregate aggregate;
    Instant at;
  };
  // The newest aggregate each member sent while this node was a keeper (its own included),
  // by id.
  const std::map<NodeId, Received>& received() const { return received_; }
  // The members' aggregates alone, as hierarchy::OfCluster takes them.
  std::map<NodeId, Aggregate> Aggregates() const;
  // Forgets what members no longer listed in `map` sent.
  void Forget(const membership::ClusterMap& map);
  // Aggregates that arrived and changed the table since the last call (for the driver's
  // re-aggregation).
  bool TakeChanged();

  struct Metrics {
    uint64_t sent = 0;      // aggregates sent, resends included
    uint64_t accepted = 0;  // aggregates that changed the supervisor's table
    uint64_t stale = 0;     // older than what the table held
  };
  const Metrics& metrics() const { return metrics_; }

 private:
  // Sends to every other keeper that has not acknowledged the current aggregate, or to
  // every one when `refresh`.
  void Send(Instant now, bool refresh, Outputs& out);
  bool Pending() const;
  bool Keeps() const { return acked_.count(options_.self) > 0; }
  void KeepOwn(Instant now);
  bool Accept(Instant now, NodeId from, const AggregateMsg& m);

  RepresentationOptions options_;
  struct Acked {
    Incarnation incarnation = 0;  // the keeper's
    uint64_t seq = 0;             // the newest it acknowledged
    bool operator==(const Acked&) const = default;
  };
  std::map<NodeId, Acked> acked_;  // per keeper
  std::optional<Aggregate> own_;
  uint64_t seq_ = 0;
  Instant last_sent_ = Instant::FromNanos(0);
  Instant next_send_ = Instant::Max();
  std::map<NodeId, Received> received_;
  bool changed_ = false;
  Metrics metrics_;
};

// The keepers a member's membership names: its supervisor and the highest-priority other
// member up (who would succeed it), each at the incarnation its map lists.
std::pair<RepresentationCore::Keeper, RepresentationCore::Keeper> KeepersOf(
    const membership::MembershipCore& core);

}  // namespace cohort::hierarchy
