// Membership messages, carried as transport Data on channel kChannel. Layouts in
// docs/design/wire.md. Decoding is total. Plain values.
#pragma once

#include <optional>
#include <variant>

#include "membership/types.h"

namespace cohort::membership {

inline constexpr uint8_t kChannel = 1;
inline constexpr size_t kMaxMembers = 65535;

// M4: the supervisor's periodic notification; the full map goes on request.
struct NotifyMsg {
  NodeId supervisor = kNoNode;
  Incarnation incarnation = 0;
  uint64_t version = 0;
  uint64_t digest = 0;
};
struct MapRequestMsg {};
struct MapMsg {
  ClusterMap map;
};
// M11: one node's access path to one disk.
struct DiskStatus {
  std::string disk;
  PathState state = PathState::kOk;
  uint32_t seq = 0;
  bool operator==(const DiskStatus&) const = default;
};
struct DiskReport {
  NodeId node = kNoNode;
  Incarnation incarnation = 0;
  DiskStatus status;
  bool operator==(const DiskReport&) const = default;
};
// M6: posted until a notification lists the node up; carries the disk access list (M1).
struct JoinMsg {
  Incarnation incarnation = 0;
  uint64_t last_version = 0;
  std::vector<DiskStatus> disks;
};
// M8: posted until a notification no longer lists the node up.
struct LeaveMsg {
  Incarnation incarnation = 0;
};
struct Declaration {
  NodeId subject = kNoNode;
  Incarnation incarnation = 0;
  bool operator==(const Declaration&) const = default;
  auto operator<=>(const Declaration&) const = default;
};
// M9: the status a node sends its ring successor each period, carrying the failure
// declarations (M10) travelling to the supervisor. Only changes ride along: an idle ring
// message is a few bytes whatever the cluster size.
struct RingMsg {
  std::vector<Declaration> declarations;
  std::vector<DiskReport> disk_reports;  // M11: disk-failure (and recovery) messages
};
// M10: a declaration sent straight to the supervisor as well, so a broken ring cannot
// delay it.
struct DeclareMsg {
  Declaration declaration;
};
// M11: a path change sent straight to the supervisor as well as around the ring; repeated
// until the published map shows it.
struct DiskReportMsg {
  DiskReport report;
};
// M12: a member's usage, to the supervisor every usage period.
struct UsageMsg {
  Incarnation incarnation = 0;
  NodeUsage usage;
};
// M12: asks the supervisor for its usage tables; answered by UsageTableMsg.
struct UsageRequestMsg {
  uint64_t nonce = 0;
};
struct UsageTableMsg {
  uint64_t nonce = 0;
  std::vector<UsageRow> rows;
};
// Confirmation probes before a failure is declared or a supervisor is taken over.
struct PingMsg {
  uint64_t nonce = 0;
};
struct AckMsg {
  uint64_t nonce = 0;
};

using Message =
    std::variant<NotifyMsg, MapRequestMsg, MapMsg, JoinMsg, LeaveMsg, RingMsg, DeclareMsg, PingMsg,
                 AckMsg, DiskReportMsg, UsageMsg, UsageRequestMsg, UsageTableMsg>;

Bytes Encode(const Message& m);
std::optional<Message> Decode(ByteView bytes);

}  // namespace cohort::membership
