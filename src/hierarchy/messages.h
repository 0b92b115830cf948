// Representation messages (M14), carried as transport Data on channel kChannel between a
// sub-cluster's representative and its parent cluster's supervisor. Layouts in
// docs/design/hierarchy.md. Decoding is total and canonical. Plain values.
#pragma once

#include <optional>
#include <variant>

#include "base/ids.h"
#include "hierarchy/aggregate.h"

namespace cohort::hierarchy {

inline constexpr uint8_t kChannel = 5;

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

}  // namespace cohort::hierarchy
