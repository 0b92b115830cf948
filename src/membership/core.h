// MembershipCore: formation, supervisor election, join/leave, ring failure detection, disk
// failure and the supervisor tables (SPEC M1–M12), sans-I/O.
//
// Intuition. A starting node listens for a supervisor notification; hearing none within the
// notification time it becomes the supervisor of a one-node cluster. Supervisors that hear a
// higher-priority supervisor cease and join it, so the highest-priority node ends up
// supervising one cluster — which is also how partitions merge when they heal. The
// supervisor broadcasts a notification (map version and digest) three times per
// notification time; members fetch the full map when the digest differs. A member that hears
// nothing for the notification time probes the supervisor directly and, if it stays silent,
// the highest-priority live node takes over. Members form a ring by node id; each sends its
// successor a status every period. A node whose predecessor is silent for miss_limit periods
// probes it for one more period and then declares it failed, both around the ring and
// straight to the supervisor, which marks it failed and republishes the map (ring repair
// follows from the map). A node that sees itself marked failed while alive rejoins at once.
//
// Disks (M11): the driver checks each configured disk and reports the result; a change of a
// node's access path travels the ring (and straight to the supervisor) until the published
// map shows it. Failed paths reported by several nodes that are up make the supervisor
// declare the disk failed; one node alone only marks its own path. The map carries the disk
// access table, so every node shows it. Usage (M12) goes to the supervisor every usage period;
// any node can ask the supervisor for its usage tables.
//
// Contract as for every core: inputs take `now`, outputs go to a caller-owned Outputs,
// NextDeadline() says when Tick() is due, randomness comes from the seeded Prng. One
// instance per node, driven by one thread (node/ in cohortd, sim/ in the simulator).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/prng.h"
#include "membership/messages.h"
#include "membership/types.h"

namespace cohort::membership {

struct MembershipOptions {
  NodeId self = kNoNode;
  Incarnation incarnation = 1;
  std::vector<NodeId> priority;  // highest first; unlisted nodes rank after, by id
  Duration period = Duration::Millis(100);
  uint32_t miss_limit = 3;
  Duration notify = Duration::Millis(300);
  std::vector<std::string> disks;  // the disk access list (M1): ids of disks this node checks
  Duration usage_period = Duration::Millis(2000);
};

// Failed paths from this many nodes that are up make a disk failed (M11: "several nodes").
inline constexpr size_t kDiskFailureReports = 2;

class MembershipCore {
 public:
  MembershipCore(MembershipOptions options, uint64_t seed);

  void Start(Instant now, Outputs& out);
  void OnMessage(Instant now, NodeId from, ByteView bytes, Outputs& out);
  void Tick(Instant now, Outputs& out);
  Instant NextDeadline() const;
  // Begins a graceful leave (M8); role() becomes kLeft once the supervisor has unlisted
  // this node (immediately for a supervisor, after it published its last map).
  void Leave(Instant now, Outputs& out);
  // M11: the result of the driver's latest check of `disk` (one of options().disks).
  void OnDiskCheck(Instant now, const std::string& disk, bool ok, Outputs& out);
  // M12: this node's current usage; sent to the supervisor every usage period.
  void SetUsage(Instant now, NodeUsage usage);
  // The transport took `node`'s entry at `incarnation`, newer than it held: the process
  // that ran `node` before is gone. If that was the supervisor this node follows, the new
  // process is sent this node's map: listening, it finds its former incarnation supervising
  // there and takes the cluster over at once, not after its own listening and the members'
  // detection (a successor holding a sub-cluster's node in the hierarchy, or a restart).
  void OnPeerRestarted(Instant now, NodeId node, Incarnation incarnation, Outputs& out);
  // M12: asks for the supervisor's usage tables; the answer comes as a UsageReply with
  // `nonce` (at once on the supervisor, or with supervisor kNoNode when there is none).
  void RequestUsage(Instant now, uint64_t nonce, Outputs& out);

  Role role() const { return role_; }
  NodeId supervisor() const { return supervisor_; }
  const ClusterMap& map() const { return map_; }
  const MembershipMetrics& metrics() const { return metrics_; }
  const MembershipOptions& options() const { return options_; }
  NodeId self() const { return options_.self; }
  const std::map<std::string, DiskPath>& local_disks() const { return local_disks_; }
  // True if `a` has a higher priority than `b`.
  bool Outranks(NodeId a, NodeId b) const;

 private:
  // Direct probes that confirm a silence before acting on it.
  struct Confirm {
    NodeId target = kNoNode;
    uint64_t nonce = 0;
    int sent = 0;
    Instant started;
    Instant next;
    bool acked = false;
  };

  void OnNotify(Instant now, NodeId from, const NotifyMsg& n, Outputs& out);
  void OnMap(Instant now, NodeId from, ClusterMap m, Outputs& out);
  // Listening, or supervising since such a takeover: a member's map naming an earlier
  // incarnation of this node its supervisor (newer than the one taken over from).
  bool TakeOverFromEarlierSelf(Instant now, NodeId from, const ClusterMap& m, Outputs& out);
  void OnJoin(Instant now, NodeId from, const JoinMsg& j, Outputs& out);
  void OnLeave(Instant now, NodeId from, const LeaveMsg& l, Outputs& out);
  void OnRing(Instant now, NodeId from, const RingMsg& r, Outputs& out);
  void OnAck(Instant now, NodeId from, uint64_t nonce);
  void OnUsage(Instant now, NodeId from, const UsageMsg& u);
  void OnDiskReport(Instant now, const DiskReport& r, Outputs& out);

  void EnterSupervisor(Instant now, Outputs& out);
  void EnterJoining(Instant now, NodeId supervisor, Outputs& out);
  void FollowSupervisor(Instant now, NodeId supervisor, Outputs& out);
  void ChooseSupervisor(Instant now, Outputs& out);
  void SupervisorSilent(Instant now, Outputs& out);
  void CheckPredecessor(Instant now, Outputs& out);
  // A ring status or a probe answer from the predecessor: restart its silence timer.
  void PredecessorHeard(Instant now);
  // True while the predecessor's silence is being timed (NextDeadline and Tick agree on it).
  bool PredecessorWatched() const;
  void Declare(Instant now, Declaration d, Outputs& out);
  void ApplyDeclaration(Instant now, const Declaration& d, Outputs& out);
  // Supervisor: `node`'s disk access list replaces whatever an earlier incarnation reported.
  void ReplaceDiskPaths(NodeId node, const std::vector<DiskStatus>& disks, Outputs& out);
  // Supervisor: records `node`'s path; returns false if the status is not newer.
  bool ApplyDiskStatus(NodeId node, const DiskStatus& status, Outputs& out);
  void ReportDisk(Instant now, const std::string& disk, Outputs& out);
  // Member: re-sends path changes the published map does not show yet.
  void ResendDiskReports(Instant now, Outputs& out);
  std::vector<DiskStatus> LocalDiskStatuses() const;
  std::vector<UsageRow> UsageRows(Instant now) const;
  // Supervisor: the map changed; bump the version and publish it shortly.
  void Publish(Instant now, Outputs& out);
  void SendMap(Instant now, Outputs& out);
  void Adopt(Instant now, ClusterMap m, Outputs& out);
  void RefreshRing(Instant now);
  NodeId Successor() const;
  void RunConfirm(Instant now, Confirm& c, Outputs& out);

  void Send(NodeId to, const Message& m, Outputs& out);
  void SendAll(const Message& m, Outputs& out);
  size_t Rank(NodeId id) const;

  MembershipOptions options_;
  std::vector<std::pair<NodeId, uint32_t>> rank_;  // (id, place in options_.priority), by id
  Prng prng_;
  Role role_ = Role::kListening;
  NodeId supervisor_ = kNoNode;
  ClusterMap map_;
  uint64_t max_version_ = 0;
  MembershipMetrics metrics_;

  Instant listen_until_ = Instant::Max();
  Instant last_notify_;
  Instant next_notify_ = Instant::Max();
  Instant publish_at_ = Instant::Max();
  Instant next_join_ = Instant::Max();
  Instant next_heartbeat_ = Instant::Max();
  Instant next_map_request_;
  std::set<NodeId> excluded_;  // supervisors found silent since the last notification
  std::optional<Confirm> supervisor_confirm_;
  // The version of the map this process took its cluster over from, from a member, after
  // an earlier process of this node supervised it.
  std::optional<uint64_t> taken_over_from_;

  NodeId predecessor_ = kNoNode;
  Instant predecessor_heard_;
  std::optional<Confirm> predecessor_confirm_;
  std::set<Declaration> declared_;  // by this node, while the subject is still listed up
  std::set<Declaration> seen_;      // declarations already forwarded or applied

  std::map<std::string, DiskPath> local_disks_;  // this node's paths, as last checked
  Instant last_disk_report_;
  // Newest (incarnation, seq) forwarded per (node, disk), so each report goes round once.
  std::map<std::pair<NodeId, std::string>, std::pair<Incarnation, uint32_t>> reports_seen_;

  struct UsageRecord {
    NodeUsage usage;
    Instant received;
  };
  std::optional<NodeUsage> local_usage_;
  Instant next_usage_ = Instant::Max();
  std::map<NodeId, UsageRecord> usage_;  // supervisor: the node and disk usage tables
};

}  // namespace cohort::membership
