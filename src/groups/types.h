// Group Services value types (SPEC G1–G3): members of named groups, the changes a group goes
// through (one version each), the record the registry keeps of a group, and what the
// sans-I/O core hands its driver and its local clients. Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/ids.h"
#include "base/time.h"
#include "wire/codec.h"

namespace cohort::groups {

using wire::Bytes;
using wire::ByteView;

// A process that is a member: its node, the node daemon's incarnation and a number that
// daemon gave it (a client connection). So two processes on one node are two members, and a
// restarted daemon's members are never taken for those it had before.
struct MemberId {
  NodeId node = kNoNode;
  Incarnation incarnation = 0;
  uint32_t local = 0;
  bool operator==(const MemberId&) const = default;
  auto operator<=>(const MemberId&) const = default;
};

// Providers take part in decisions (they vote); subscribers see approved changes only.
enum class Role : uint8_t { kProvider = 1, kSubscriber = 2 };
const char* RoleName(Role r);

// Who asked for a change: the asking node and its own count of requests, so a request sent
// again (to a new coordinator) is recognised.
struct RequestId {
  NodeId node = kNoNode;
  Incarnation incarnation = 0;
  uint64_t seq = 0;
  bool operator==(const RequestId&) const = default;
  auto operator<=>(const RequestId&) const = default;
};

enum class ChangeKind : uint8_t {
  kJoin = 1,         // `member` joined as `role`
  kLeave = 2,        // `member` left on its own
  kProcessDied = 3,  // `member`'s process died; its node lives on
  kNodeDied = 4,     // every member of `member`'s node and incarnation failed with it
  kState = 5,        // the group's state became `value`
};
const char* ChangeKindName(ChangeKind k);

// One committed step of a group: version n+1 follows version n. `token` is the registry
// revision that recorded it, so tokens only grow, across all groups: a fencing token.
struct Change {
  uint64_t version = 0;
  int64_t token = 0;
  ChangeKind kind = ChangeKind::kState;
  MemberId member;
  Role role = Role::kProvider;
  Bytes value;
  RequestId request;
  bool operator==(const Change&) const = default;
};

struct Member {
  MemberId id;
  Role role = Role::kProvider;
  bool operator==(const Member&) const = default;
};

// Why a request did not commit.
enum class AbortReason : uint8_t {
  kRejected = 1,       // a provider voted no (or its default vote was no)
  kNotProvider = 2,    // the proposer is not a provider of the group
  kNoGroup = 3,        // leave or propose in a group that does not exist
  kNotMember = 4,      // leave of a process that is not a member
  kAlreadyMember = 5,  // join of a process that is a member
  kInvalid = 6,        // a name, value or phase count out of bounds
};
inline constexpr uint8_t kAbortReasonMax = 6;
const char* AbortReasonName(AbortReason r);

// A request as its outcome was recorded: committed as `version`, or not (`reason`).
struct RecentRequest {
  RequestId request;
  uint64_t version = 0;
  std::optional<AbortReason> reason;
  bool operator==(const RecentRequest&) const = default;
};

// A group as the registry holds it. `owner` is the coordinator that wrote it last: a new
// coordinator writes itself in before it decides anything, which fences the old one (whose
// next write expects the revision it last saw). `recent` keeps the requests of the last
// requests so that a request sent again after a takeover is answered, not run twice.
struct GroupRecord {
  uint64_t version = 0;
  Bytes state;
  std::vector<Member> members;
  bool default_approve = true;       // the vote of a provider that does not answer in time
  std::vector<std::string> depends;  // groups whose changes this group's members hear (G3)
  NodeId owner = kNoNode;
  Incarnation owner_incarnation = 0;
  std::vector<RecentRequest> recent;  // oldest first
  bool operator==(const GroupRecord&) const = default;
};

inline constexpr size_t kMaxNameBytes = 128;
inline constexpr size_t kMaxStateBytes = 64 * 1024;
inline constexpr size_t kMaxMembers = 4096;
inline constexpr size_t kMaxDepends = 32;
inline constexpr size_t kRecentRequests = 256;
inline constexpr uint8_t kMaxPhases = 8;
inline constexpr uint64_t kMaxVersion = uint64_t{1} << 62;
// Groups that depend on one group and have members on one node, as a commit names them.
inline constexpr size_t kMaxRelated = 1024;

// Group names: 1–128 bytes of [A-Za-z0-9._-].
bool ValidName(const std::string& name);

Bytes EncodeRecord(const GroupRecord& r);
// nullopt for anything malformed: the registry's bytes are checked like a peer's.
std::optional<GroupRecord> DecodeRecord(ByteView bytes);

}  // namespace cohort::groups
