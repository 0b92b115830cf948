// Hierarchy messages (M14), carried as transport Data. On kChannel, representation: between
// a sub-cluster's representative and its parent cluster's keepers. On kViewChannel, the tree
// sent down: from a level's supervisor to its members. Layouts in docs/design/hierarchy.md.
// Decoding is total and canonical. Plain values.
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "base/ids.h"
#include "hierarchy/aggregate.h"

namespace cohort::hierarchy {

inline constexpr uint8_t kChannel = 5;
inline constexpr uint8_t kViewChannel = 6;

// A representative's aggregate of the sub-cluster it stands for. `seq` counts the aggregates
// one incarnation of the representative sent, so a late datagram cannot undo a newer one.
struct AggregateMsg {
  Incarnation incarnation = 0;
  uint64_t seq = 0;
  Aggregate aggregate;
  bool operator==(const AggregateMsg&) const = default;
};
// The supervisor holds (incarnation, seq) or something newer: the sender may stop resending.
struct AggregateAckMsg {
  Incarnation incarnation = 0;
  uint64_t seq = 0;
  bool operator==(const AggregateAckMsg&) const = default;
};

using Message = std::variant<AggregateMsg, AggregateAckMsg>;

wire::Bytes EncodeMessage(const Message& m);
std::optional<Message> DecodeMessage(wire::ByteView bytes);

// One level of the tree as its supervisor sees it: its map, and what each member stands for.
struct LevelView {
  NodeId supervisor = kNoNode;
  uint64_t version = 0;  // of its map
  struct Member {
    NodeId id = kNoNode;
    membership::MemberState state = membership::MemberState::kUp;
    Incarnation incarnation = 0;
    std::optional<Aggregate> aggregate;  // the sub-cluster it stands for, disks counted
    bool operator==(const Member&) const = default;
  };
  std::vector<Member> members;  // by id, ascending
  // Members the level has that are not listed: a view over kMaxViewBytes is cut (below),
  // here or at a level that sent it down. 0: `members` is the whole map.
  uint16_t omitted = 0;
  std::optional<Aggregate> aggregate;  // the whole level's, disks counted
  bool operator==(const LevelView&) const = default;
};
inline constexpr size_t kMaxViewLevels = 4;
inline constexpr size_t kMaxViewMembers = 4096;
// An encoded view stays within this many bytes, so every path carries it (the transport's
// kMaxMessageOnAnyPath, about 497 KiB, checked in view_test): room for about 6,700 members
// in all. Past it the nearest levels keep their members, a farther level is sent with the
// first of its members by id that fit, or none, and says how many it left out (`omitted`);
// every level's own aggregate still counts all of them.
inline constexpr size_t kMaxViewBytes = 480 * 1024;
// A level's header and its aggregate, at most: the room kept for each level still to come.
inline constexpr size_t kMaxViewLevelOverhead = 2 + 8 + 2 + 2 + 3 + kCountedAggregateBytes;

// The levels above the receivers, nearest first, as their supervisor knows them. `seq`
// counts the views one incarnation of the sender sent, so a late datagram cannot undo a
// newer one.
struct ViewMsg {
  Incarnation incarnation = 0;
  uint64_t seq = 0;
  std::vector<LevelView> levels;
  bool operator==(const ViewMsg&) const = default;
};

// A member holds the view (incarnation, seq) of its supervisor, or a newer one.
struct ViewAckMsg {
  Incarnation incarnation = 0;
  uint64_t seq = 0;
  bool operator==(const ViewAckMsg&) const = default;
};

using ViewMessage = std::variant<ViewMsg, ViewAckMsg>;

// The aggregate with its disks counted, not listed: what a view carries, bounded in size.
Aggregate Counted(const Aggregate& a);

wire::Bytes EncodeView(const ViewMessage& m);
std::optional<ViewMessage> DecodeView(wire::ByteView bytes);

}  // namespace cohort::hierarchy
