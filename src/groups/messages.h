// Group Services messages between a node's daemon and the coordinator, carried as transport
// Data on channel kChannel (the sender's node id comes from the sealed header). Decoding is
// total: anything malformed or over a limit is nullopt. Plain values.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "groups/types.h"

namespace cohort::groups {

inline constexpr uint8_t kChannel = 4;

// node → coordinator: do this, on behalf of `member`. Sent again every retry period until
// answered (by a commit naming `request` or an outcome).
struct RequestMsg {
  std::string group;
  RequestId request;
  ChangeKind kind = ChangeKind::kState;  // kJoin, kLeave, kProcessDied or kState
  MemberId member;
  Role role = Role::kProvider;  // kJoin
  Bytes value;                  // kState
  uint8_t phases = 1;           // kState: voting rounds, each a barrier
  bool default_approve = true;  // kJoin that creates the group
  std::vector<std::string> depends;
  bool operator==(const RequestMsg&) const = default;
};

// coordinator → a node with providers: its providers `voters` (by local number) vote on
// `request` (round `phase` of its phases).
struct VoteRequestMsg {
  std::string group;
  RequestId request;
  uint64_t version = 0;  // the version it would become
  uint8_t phase = 1;
  Bytes value;
  std::vector<uint32_t> voters;
  bool operator==(const VoteRequestMsg&) const = default;
};

// kAbsent: the node has no such process (it died): the group's default vote, at once.
enum class Vote : uint8_t { kApprove = 1, kReject = 2, kAbsent = 3 };

// node → coordinator: one provider's vote.
struct VoteReplyMsg {
  std::string group;
  RequestId request;
  uint8_t phase = 1;
  MemberId member;
  Vote vote = Vote::kApprove;
  bool operator==(const VoteReplyMsg&) const = default;
};

// coordinator → every node with members of the group or of a group that depends on it
// (`related` names those groups, for this node), and the requester's node.
struct CommitMsg {
  std::string group;
  Change change;
  std::vector<std::string> related;
  bool operator==(const CommitMsg&) const = default;
};

// coordinator → the requester's node: what became of `request` (its commit also says so, to
// every member). Sent once the outcome is recorded, and again to a request sent again.
struct OutcomeMsg {
  std::string group;
  RecentRequest outcome;
  bool operator==(const OutcomeMsg&) const = default;
};

// node → coordinator: send me the group's changes from `from_version` on.
struct CatchUpMsg {
  std::string group;
  uint64_t from_version = 0;
  bool operator==(const CatchUpMsg&) const = default;
};

// coordinator → node, when it no longer holds the changes asked for: the group as it is.
struct SnapshotMsg {
  std::string group;
  uint64_t version = 0;
  int64_t token = 0;
  Bytes state;
  std::vector<Member> members;
  std::vector<std::string> related;
  bool operator==(const SnapshotMsg&) const = default;
};

// coordinator → every node concerned, after it takes a group over: the group's version, so a
// node that missed the last commits asks for them at once.
struct VersionMsg {
  std::string group;
  uint64_t version = 0;
  bool operator==(const VersionMsg&) const = default;
};

using Message = std::variant<RequestMsg, VoteRequestMsg, VoteReplyMsg, CommitMsg, OutcomeMsg,
                             CatchUpMsg, SnapshotMsg, VersionMsg>;

Bytes Encode(const Message& m);
std::optional<Message> Decode(ByteView bytes);

}  // namespace cohort::groups
