// GroupsCore: Group Services (SPEC G1–G3) for one node, sans-I/O. Two roles in one class,
// since every node may become the coordinator:
//
// - The node side serves the node's local processes (clients): it forwards their joins,
//   leaves and proposals to the coordinator (again every retry period until answered), asks
//   its local providers to vote, and delivers each group's committed changes to its local
//   members in version order, asking the coordinator to catch it up over a gap.
// - The coordinator side (on the node the driver names, the cluster's supervisor) runs each
//   group's changes one at a time: a proposal goes to every provider for a vote, in one or
//   more rounds; missing votes take the group's default vote; an approved change is written
//   to the group's registry record by compare-and-swap and only then committed to the
//   members. The record is the decision: once written it stands, and a coordinator that lost
//   the record to a newer one (a takeover writes itself in first) can no longer write.
//
// The registry is the driver's: ReadRecords and WriteRecord go out, OnRecords and OnWritten
// come back. Times are given; nothing here owns a socket, clock or thread.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "groups/messages.h"

namespace cohort::groups {

struct GroupsOptions {
  NodeId self = kNoNode;
  Incarnation incarnation = 0;
  Duration retry = Duration::Millis(100);         // an unanswered request is sent again
  Duration vote_timeout = Duration::Millis(500);  // a provider silent this long: default vote
  size_t changes_kept = 1024;                     // per group, for catching nodes up
  // Every check period each node asks the coordinator for what it lacks of its groups, and
  // the coordinator reads every record back to find those another coordinator wrote.
  Duration check = Duration::Seconds(1);
};

// ---- outputs to the driver ----
struct SendTo {
  NodeId node = kNoNode;
  Bytes bytes;
};
// Read every group record; answer OnRecords with the same ticket.
struct ReadRecords {
  uint64_t ticket = 0;
};
// Write `record` for `group` if its stored revision is still `expect_revision` (0: absent);
// answer OnWritten with the same ticket.
struct WriteRecord {
  std::string group;
  int64_t expect_revision = 0;
  Bytes record;
  uint64_t ticket = 0;
};

// ---- outputs to the node's local clients (member `local`) ----
// A committed change of `group`: the member's own group, or (`related`, naming the member's
// group) one its group depends on.
struct Notify {
  uint32_t local = 0;
  std::string group;
  std::string related;
  Change change;
};
// The member missed changes the coordinator no longer has: the group as it is now.
struct Resync {
  uint32_t local = 0;
  std::string group;
  std::string related;
  uint64_t version = 0;
  int64_t token = 0;
  Bytes state;
  std::vector<Member> members;
};
// A provider is asked to vote (Vote answers it).
struct VoteAsk {
  uint32_t local = 0;
  std::string group;
  RequestId request;
  uint64_t version = 0;
  uint8_t phase = 1;
  Bytes value;
};
// What became of a request the member made.
struct Outcome {
  uint32_t local = 0;
  std::string group;
  RequestId request;
  RecentRequest outcome;
};
// The member is no longer in the group though it did not leave: its process or node was
// declared dead (a partition, a stalled daemon). It may join again.
struct Lost {
  uint32_t local = 0;
  std::string group;
  ChangeKind why = ChangeKind::kNodeDied;
};

using Output =
    std::variant<SendTo, ReadRecords, WriteRecord, Notify, Resync, VoteAsk, Outcome, Lost>;
using Outputs = std::vector<Output>;

// A record as read: its revision (the key's mod revision) and bytes.
struct StoredRecord {
  std::string group;
  int64_t revision = 0;
  Bytes record;
};

enum class WriteStatus : uint8_t {
  kWritten,      // `revision` is the write's
  kConflict,     // the record is another's now: `current` holds it (nullopt: absent)
  kUnavailable,  // the registry could not be reached or is read-only; nothing known
};
struct WriteResult {
  WriteStatus status = WriteStatus::kUnavailable;
  int64_t revision = 0;
  std::optional<StoredRecord> current;
};

using NodeView = std::map<NodeId, Incarnation>;  // the nodes up, with their incarnations

class GroupsCore {
 public:
  explicit GroupsCore(GroupsOptions options);

  // ---- the driver ----
  // The coordinator (kNoNode: none yet) and the nodes up in the cluster map. The members
  // of a node that is no longer up, or is up with another incarnation, fail with it.
  void SetView(Instant now, NodeId coordinator, const NodeView& up, Outputs& out);
  void OnMessage(Instant now, NodeId from, ByteView bytes, Outputs& out);
  void OnRecords(Instant now, uint64_t ticket,
                 const std::optional<std::vector<StoredRecord>>& records, Outputs& out);
  void OnWritten(Instant now, const std::string& group, uint64_t ticket, const WriteResult& result,
                 Outputs& out);
  void Tick(Instant now, Outputs& out);
  Instant NextDeadline() const;

  // ---- local clients (numbered from 1); a request's outcome comes as an Outcome ----
  RequestId Join(Instant now, uint32_t local, const std::string& group, Role role,
                 bool default_approve, const std::vector<std::string>& depends, Outputs& out);
  RequestId Leave(Instant now, uint32_t local, const std::string& group, Outputs& out);
  RequestId Propose(Instant now, uint32_t local, const std::string& group, Bytes value,
                    uint8_t phases, Outputs& out);
  void Vote(Instant now, uint32_t local, const std::string& group, RequestId request, uint8_t phase,
            bool approve, Outputs& out);
  // The client's process is gone: it fails out of every group it was in.
  void ProcessDied(Instant now, uint32_t local, Outputs& out);

  // ---- what it knows (for the API, tests and the simulator) ----
  bool coordinating() const { return coordinating_; }
  // Groups this node has members in or hears of, with the last version it delivered.
  std::map<std::string, uint64_t> Delivered() const;
  // Coordinator side: groups whose record this node holds, and their members.
  std::vector<std::pair<std::string, GroupRecord>> Led() const;

  uint64_t malformed() const { return malformed_; }
  // Coordinator messages from a node this one does not take as its coordinator.
  uint64_t refused() const { return refused_; }

 private:
  struct LocalMember {
    Role role = Role::kProvider;
    RequestId join;          // the request that made it a member
    uint64_t joined_at = 0;  // the version of its join, once known here
    uint64_t since = 0;      // the same, once delivered: it hears from then on
  };
  // A group as this node follows it: for its local members, or for members of groups that
  // depend on it.
  struct Followed {
    uint64_t delivered = 0;            // last version delivered here
    uint64_t known = 0;                // highest version heard of
    bool started = false;              // `delivered` is a baseline
    std::map<uint64_t, Change> early;  // commits past a gap, waiting
    std::map<uint32_t, LocalMember> members;
    std::set<std::string> related;  // local groups that depend on this one
    Instant gap_since = Instant::Max();
  };
  struct Pending {
    uint32_t local = 0;
    RequestMsg msg;
    Instant next_send;
    bool orphan = false;  // a join whose process died before it committed
  };
  // The coordinator's handling of one request.
  struct Transition {
    RequestMsg request;
    NodeId from = kNoNode;
    uint8_t phase = 1;
    std::set<MemberId> voters;  // the providers asked, who have not voted yet
    bool defaulted = false;     // a provider of this round takes the default vote (down, silent)
    Instant deadline = Instant::Max();
    std::optional<Change> change;       // to commit
    std::optional<AbortReason> reason;  // to record as aborted
    bool voting = false;
  };
  // The coordinator's view of one group.
  struct Lead {
    bool owned = false;  // our owner write went through: we may decide
    int64_t revision = 0;
    GroupRecord record;
    std::deque<Change> changes;  // the latest, for catch-ups
    std::deque<std::pair<NodeId, RequestMsg>> queue;
    // Being voted on, or voted and waiting for `write`: judged against what `write` makes
    // of the record, so that its votes overlap the write of the decision before it.
    std::optional<Transition> now;
    std::optional<Transition> deciding;  // whose decision `write` holds (none: a takeover)
    std::optional<WriteRecord> write;    // in flight, or to send again at retry_at
    GroupRecord writing;                 // what `write` holds
    bool write_sent = false;
    Instant retry_at = Instant::Max();
    // Unknown here and asked about (not a join): a read of every record with a ticket from
    // this one on must show whether the group exists before the request is answered.
    uint64_t await_read = 0;
    std::set<RequestId> queued;  // the requests in `queue`
    bool broken = false;         // its record cannot be read: nothing runs until repaired
  };
  // The record as the next decision finds it: the write in flight applied. A write that
  // fails was lost to another coordinator, and everything judged on it is judged again.
  static const GroupRecord& Basis(const Lead& g) { return g.write ? g.writing : g.record; }

  // node side (node.cc)
  RequestId Submit(Instant now, uint32_t local, RequestMsg msg, Outputs& out);
  // A request about this node's member `local`.
  RequestMsg NewRequest(const std::string& group, ChangeKind kind, uint32_t local) const;
  void Refuse(uint32_t local, const std::string& group, AbortReason reason, Outputs& out);
  void OnCommit(Instant now, const CommitMsg& m, Outputs& out);
  void OnSnapshot(Instant now, const SnapshotMsg& m, Outputs& out);
  void OnOutcome(Instant now, const OutcomeMsg& m, Outputs& out);
  void OnVoteRequest(NodeId from, const VoteRequestMsg& m, Outputs& out);
  void OnVersion(Instant now, const VersionMsg& m);
  void TryStart(Instant now, const std::string& group, Followed& f, Outputs& out);
  void MaybeForget(const std::string& group);
  void JoinCommitted(Instant now, const std::string& group, Followed& f, const Pending& join,
                     uint64_t version, Outputs& out);
  void Drain(Instant now, const std::string& group, Followed& f, Outputs& out);
  void Deliver(const std::string& group, Followed& f, const Change& c, Outputs& out);
  void NotifyRelated(const std::string& group, const Followed& f, const Output& what, Outputs& out);
  void NodeTick(Instant now, Outputs& out);
  Instant NodeDeadline() const;

  // coordinator side (coordinator.cc)
  void StartCoordinating(Outputs& out);
  void ReadAll(Outputs& out);
  void Reconcile(const StoredRecord& s, Outputs& out);
  void OnRequest(Instant now, NodeId from, const RequestMsg& m, Outputs& out);
  void OnVoteReply(Instant now, const VoteReplyMsg& m, Outputs& out);
  void OnCatchUp(NodeId from, const CatchUpMsg& m, Outputs& out);
  // Writes this node in as the group's owner, now or (`at`) later.
  void TakeOver(const std::string& group, Lead& g, Outputs& out, Instant at = Instant());
  void Advance(Instant now, const std::string& group, Lead& g, Outputs& out);
  void Begin(Instant now, const std::string& group, Lead& g, Outputs& out);
  Transition Judge(const std::string& group, const GroupRecord& r, NodeId from,
                   const RequestMsg& m) const;
  void AskVotes(Instant now, const std::string& group, Lead& g, Outputs& out);
  void EndRound(Instant now, const std::string& group, Lead& g, bool timed_out, Outputs& out);
  void Tally(Instant now, const std::string& group, Lead& g, bool timed_out, Outputs& out);
  void Record(const std::string& group, Lead& g, Outputs& out);
  void Written(const std::string& group, Lead& g, int64_t revision, Outputs& out);
  void Conflicted(Instant now, const std::string& group, Lead& g,
                  const std::optional<StoredRecord>& current, Outputs& out);
  void VotersWentDown(Instant now, Outputs& out);
  void FailDeadNodes(Instant now, Outputs& out);
  bool Up(const MemberId& m) const;
  std::map<NodeId, std::vector<std::string>> Audience(const std::string& group,
                                                      const Lead& g) const;
  std::vector<std::string> RelatedOn(const std::string& group, NodeId node) const;
  void SendWrite(Lead& g, Outputs& out);
  void Requeue(Lead& g);
  void Announce(const std::string& group, const Lead& g, Outputs& out);
  void CoordinatorTick(Instant now, Outputs& out);
  Instant CoordinatorDeadline() const;
  void Send(NodeId node, const Message& m, Outputs& out);
  void Dispatch(Instant now, NodeId from, const Message& m, Outputs& out);
  void Flush(Instant now, Outputs& out);

  GroupsOptions options_;
  NodeId coordinator_ = kNoNode;
  NodeId previous_coordinator_ = kNoNode;
  NodeView up_;
  uint64_t next_seq_ = 1;
  uint64_t next_ticket_ = 1;
  uint64_t malformed_ = 0;
  uint64_t refused_ = 0;
  std::map<std::string, Followed> followed_;
  std::map<RequestId, Pending> pending_;
  std::deque<Message> inbox_;                                   // sent to this node by itself
  std::map<std::pair<std::string, RequestId>, NodeId> askers_;  // who asked for a vote
  std::deque<std::pair<std::string, RequestId>> asked_order_;   // askers_, oldest first
  // coordinator side
  bool coordinating_ = false;
  std::optional<uint64_t> reading_;  // the ticket of ReadRecords in flight
  bool read_once_ = false;           // since it became the coordinator
  Instant read_retry_at_ = Instant::Max();
  Instant check_at_ = Instant::Max();  // coordinator: the next read of every record
  Instant poll_at_;                    // node: the next check of its groups' versions
  std::map<std::string, Lead> leads_;
  std::vector<std::pair<NodeId, RequestMsg>> before_read_;  // requests while reading
};

}  // namespace cohort::groups
