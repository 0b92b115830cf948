// Membership value types: the cluster map (M4, M12) and the core's outputs. Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <variant>
#include <vector>

#include "base/ids.h"
#include "base/time.h"
#include "wire/codec.h"

namespace cohort::membership {

using wire::Bytes;
using wire::ByteView;

enum class MemberState : uint8_t { kUp = 0, kJoining = 1, kFailed = 2, kLeft = 3 };
inline constexpr uint8_t kMemberStateMax = 3;
const char* MemberStateName(MemberState s);

struct Member {
  NodeId id = kNoNode;
  MemberState state = MemberState::kUp;
  Incarnation incarnation = 0;
  bool operator==(const Member&) const = default;
};

// The supervisor's cluster map. `version` only grows, across supervisors too: a new
// supervisor continues from the highest version it has seen, and a joiner reports its own.
struct ClusterMap {
  NodeId supervisor = kNoNode;
  uint64_t version = 0;
  std::map<NodeId, Member> members;

  uint64_t Digest() const;
  const Member* Find(NodeId id) const;
  bool IsUp(NodeId id) const;
  // Up members in ring order (ascending id).
  std::vector<NodeId> Ring() const;
  bool operator==(const ClusterMap&) const = default;
};

enum class Role : uint8_t { kListening, kJoining, kMember, kSupervisor, kLeaving, kLeft };
const char* RoleName(Role r);

// ---- outputs ----
struct SendTo {
  NodeId to = kNoNode;
  Bytes bytes;
};
// To every node the driver knows (the address table): the virtual multicast bus (M2).
struct Broadcast {
  Bytes bytes;
};
struct MembershipEvent {
  enum class Kind {
    kBecameSupervisor,
    kSupervisorChanged,
    kMapChanged,
    kFailureDeclared,  // by this node, as the failed node's ring successor
    kLeft,
  };
  Kind kind;
  NodeId node = kNoNode;  // the supervisor, or the declared node
  uint64_t map_version = 0;
};
using Output = std::variant<SendTo, Broadcast, MembershipEvent>;
using Outputs = std::vector<Output>;

struct MembershipMetrics {
  uint64_t supervisor_changes = 0;
  uint64_t failures_declared = 0;  // failures marked in the map while this node supervised
  uint64_t declarations_sent = 0;  // failures this node declared as a ring successor
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
};

}  // namespace cohort::membership
