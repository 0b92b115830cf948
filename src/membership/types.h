// Membership value types: the cluster map (M4, M12) and the core's outputs. Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
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

// M11: a node's access path to a disk, as last reported by that node. `seq` counts the
// node's changes of this path within one incarnation, so a late report cannot undo a newer.
enum class PathState : uint8_t { kOk = 0, kFailed = 1 };
inline constexpr uint8_t kPathStateMax = 1;
const char* PathStateName(PathState s);
struct DiskPath {
  PathState state = PathState::kOk;
  uint32_t seq = 0;
  bool operator==(const DiskPath&) const = default;
};

// A disk of the topology table (M12): its access status from every node that has access.
// `failed` is the supervisor's declaration (M11): set when nodes that are up report failed
// paths to it, kept until some node reports a working path again.
struct DiskEntry {
  bool failed = false;
  std::map<NodeId, DiskPath> paths;
  bool operator==(const DiskEntry&) const = default;
};
enum class DiskState : uint8_t { kOk, kDegraded, kFailed };
const char* DiskStateName(DiskState s);

// The supervisor's cluster map. `version` only grows, across supervisors too: a new
// supervisor continues from the highest version it has seen, and a joiner reports its own.
struct ClusterMap {
  NodeId supervisor = kNoNode;
  uint64_t version = 0;
  std::map<NodeId, Member> members;
  std::map<std::string, DiskEntry> disks;  // M11/M12: disk access status from each node

  uint64_t Digest() const;
  const Member* Find(NodeId id) const;
  bool IsUp(NodeId id) const;
  // Up members in ring order (ascending id).
  std::vector<NodeId> Ring() const;
  // ok; degraded: some node that is up cannot reach it; failed: declared failed.
  DiskState StateOf(const DiskEntry& disk) const;
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
    // Supervisor only (M11): `node`'s path to `disk` failed or works again; `disk` declared
    // failed on reports from several nodes, or restored.
    kDiskPathFailed,
    kDiskPathRestored,
    kDiskFailed,
    kDiskRestored,
  };
  Kind kind;
  NodeId node = kNoNode;  // the supervisor, the declared node, or the reporting node
  uint64_t map_version = 0;
  std::string disk;
};

// M12: what a node reports of its own load to the supervisor every usage period.
inline constexpr uint16_t kUnknownBusy = 0xffff;
struct DiskUsage {
  std::string disk;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint16_t busy_permille = kUnknownBusy;  // share of time the device was busy
  uint32_t probe_micros = 0;              // duration of the last check
  bool operator==(const DiskUsage&) const = default;
};
struct NodeUsage {
  uint32_t capacity_mbps = 0;  // streaming capacity; 0 if unknown
  uint64_t tx_bps = 0;         // current load: bits per second sent on the node's adapters
  uint64_t rx_bps = 0;
  uint32_t load_milli = 0;  // 1-minute load average × 1000
  std::vector<DiskUsage> disks;
  bool operator==(const NodeUsage&) const = default;
};
struct UsageRow {
  NodeId node = kNoNode;
  Duration age;  // since the supervisor received it
  NodeUsage usage;
};
// The answer to RequestUsage: the supervisor's node and disk usage tables.
struct UsageReply {
  uint64_t nonce = 0;
  NodeId supervisor = kNoNode;
  std::vector<UsageRow> rows;
};
using Output = std::variant<SendTo, Broadcast, MembershipEvent, UsageReply>;
using Outputs = std::vector<Output>;

struct MembershipMetrics {
  uint64_t supervisor_changes = 0;
  uint64_t failures_declared = 0;       // failures marked in the map while this node supervised
  uint64_t declarations_sent = 0;       // failures this node declared as a ring successor
  uint64_t disk_failures_declared = 0;  // disks declared failed while this node supervised
  uint64_t disk_path_failures = 0;      // access paths marked failed while supervising
  uint64_t disk_reports_sent = 0;       // this node's own path changes reported
  uint64_t takeovers_from_earlier_self = 0;  // supervised at once from a member's map
  uint64_t messages_sent = 0;
  uint64_t bytes_sent = 0;
};

}  // namespace cohort::membership
