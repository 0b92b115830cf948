// GroupsSim: a GroupsCore per node, client processes that join, propose, vote and die, a
// registry that keeps each group's record with compare-and-swap, over a virtual clock and a
// network that delays, reorders and loses messages, from one seed.
//
// The membership is modelled, not run: after a fault each node learns, after a detection
// delay of its own, which nodes are up on its side of any partition and that the lowest of
// them is the coordinator; so two coordinators at once (a partition, views that disagree) are
// the normal case. The registry answers only nodes outside the minority of a partition, and
// may be down as a whole; an answer may be lost after the write took effect.
//
// Checkers run on every event: each record write follows the one before (a version more, or
// the same version with the same state and members); every change a member is told of is the
// registry's for that version, with the registry's revision as its token; each member hears
// its group's versions one after the other (a resync may skip ahead); every request is
// decided once, and what its requester is told is what the registry recorded. Quiet() is the
// termination check once faults stop.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/prng.h"
#include "groups/core.h"
#include "sim/node_events.h"

namespace cohort::sim {

struct GroupsSimOptions {
  int nodes = 5;
  uint64_t seed = 1;
  int clients = 2;  // per node
  Duration latency_min = Duration::Micros(100);
  Duration latency_max = Duration::Millis(2);
  Duration registry_min = Duration::Micros(300);  // each way
  Duration registry_max = Duration::Millis(2);
  Duration detect_min = Duration::Millis(200);  // a fault reaches a node's view
  Duration detect_max = Duration::Millis(500);
  double loss = 0.0;  // messages and registry answers
  groups::GroupsOptions timing;
};

class GroupsSim {
 public:
  explicit GroupsSim(GroupsSimOptions options);

  Instant now() const { return now_; }
  void StartAll(Duration stagger);
  bool RunUntilTrue(const std::function<bool()>& done, Duration limit,
                    Duration step = Duration::Millis(10));
  void RunFor(Duration d) {
    RunUntilTrue([] { return false; }, d);
  }

  // ---- workload ----
  // While on, every joined provider proposes 5–40 ms after its last request was answered
  // (its values name it and count).
  void SetProposing(bool on) { proposing_ = on; }

  // ---- faults ----
  void Crash(NodeId node);
  void Restart(NodeId node);
  // `minority` is cut off from the other nodes and the registry (empty: healed).
  void Partition(const std::set<NodeId>& minority);
  void SetRegistryUp(bool up) { registry_up_ = up; }
  void SetLoss(double p) { options_.loss = p; }
  // A client process of `node` dies; a new one takes its place and joins again.
  void KillClient(NodeId node);

  // ---- checks ----
  bool alive(NodeId node) const { return nodes_.at(node).core != nullptr; }
  NodeId coordinator() const;  // the lowest live node outside the minority
  const std::vector<std::string>& violations() const { return violations_; }
  // Faults over: every request answered, every member at its group's latest version, and
  // every group's members exactly the live clients that joined it.
  bool Quiet(std::string* why = nullptr) const;
  // Requests the live clients wait on; whether one was answered, or its client is still
  // there to be answered.
  std::set<groups::RequestId> OpenRequests() const;
  bool Answered(const groups::RequestId& id) const { return answered_.count(id) != 0; }
  bool StillOpen(const groups::RequestId& id) const;
  uint64_t commits() const { return commits_; }
  uint64_t aborts() const { return aborts_; }
  uint64_t trace() const { return trace_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Client {
    uint32_t local = 0;
    std::map<std::string, groups::Role> wanted;  // groups it joins
    std::set<std::string> joined;                // committed joins it was told of
    std::set<std::string> joining;
    std::map<std::pair<std::string, std::string>, uint64_t> heard;  // (group, related) → last
    std::set<groups::RequestId> open;                               // requests unanswered
    std::map<groups::RequestId, std::string> joins;                 // of those, the joins
    uint64_t proposals = 0;
  };
  struct Node {
    std::unique_ptr<groups::GroupsCore> core;
    Incarnation incarnation = 0;
    uint64_t timer_generation = 0;
    uint32_t next_local = 1;
    std::map<uint32_t, Client> clients;
  };
  struct Stored {
    int64_t revision = 0;
    groups::Bytes record;
  };
  using Events = NodeEvents<std::function<void()>>;

  void Start(NodeId node);
  void Step(const Events::Event& e);
  void AddClient(NodeId node);
  void ClientJoin(NodeId node, uint32_t local);
  void ClientPropose(NodeId node, uint32_t local);
  void Route(NodeId node, groups::Outputs& out);
  void ToClient(NodeId node, const groups::Output& o);
  void OnOutcome(NodeId node, const groups::Outcome& o);
  static void ForgetStreams(Client& c, const std::string& group);
  void CheckResync(NodeId node, uint32_t local, const groups::Resync& r);
  void Heard(NodeId node, uint32_t local, const std::string& group, const std::string& related,
             const groups::Change& c);
  void Write(NodeId node, const groups::WriteRecord& w);
  void Read(NodeId node, uint64_t ticket);
  static bool OneChange(const groups::GroupRecord& before, const groups::GroupRecord& after);
  static bool Lists(const groups::GroupRecord& r, const groups::MemberId& id);
  static bool Steps(const groups::GroupRecord& before, const groups::GroupRecord& after,
                    const groups::Change& c);
  void CheckWrite(const std::string& group, const groups::GroupRecord* before,
                  const groups::GroupRecord& after, int64_t revision);
  bool Reaches(NodeId a, NodeId b) const;
  bool ReachesRegistry(NodeId node) const;
  void ScheduleViews(bool fault);
  void GiveView(NodeId node);
  // Runs `f` on `node` after `delay` if that incarnation is still running.
  void At(NodeId node, Duration delay, std::function<void(Node&)> f);
  void ArmTimer(NodeId node);
  void Violation(const std::string& what);
  Duration Between(Duration lo, Duration hi);

  GroupsSimOptions options_;
  Prng prng_;
  Instant now_ = Instant::FromNanos(1'000'000'000);
  Events events_;
  std::map<NodeId, Node> nodes_;
  std::set<NodeId> minority_;
  bool registry_up_ = true;
  bool proposing_ = false;
  // the registry
  int64_t revision_ = 1;
  std::map<std::string, Stored> store_;
  std::map<std::string, std::map<uint64_t, std::pair<int64_t, groups::GroupRecord>>> history_;
  std::map<groups::RequestId, groups::RecentRequest> decided_;
  std::map<std::pair<std::string, uint64_t>, groups::Change> told_;  // first told of each
  std::set<groups::RequestId> no_group_;                             // answered "no such group"
  std::set<groups::RequestId> answered_;
  std::vector<std::string> violations_;
  uint64_t commits_ = 0, aborts_ = 0;
  uint64_t trace_ = 0xcbf29ce484222325ULL;
  uint64_t delivered_ = 0, dropped_ = 0;
};

}  // namespace cohort::sim
