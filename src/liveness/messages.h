// Liveness messages, carried as transport Data on channel kChannel (the sender's node id
// comes from the sealed header). Layouts in docs/design/wire.md. Decoding is total. Plain
// values.
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "liveness/types.h"

namespace cohort::liveness {

inline constexpr uint8_t kChannel = 3;
// A row lists at most this many paths (every adapter pair of a 1,000-node, 2-network
// cluster fits).
inline constexpr size_t kMaxRowEntries = 65535;

// Sent from adapter `from` to adapter `to` every period (ring successor) or once per
// rotation; `next_ms` is when the sender's next heartbeat on this path is due, so the
// receiver knows when silence means a broken path without sharing the sender's schedule.
// (row_incarnation, row_version) name the sender's newest row: a receiver holding an older
// one asks for it.
struct HeartbeatMsg {
  Endpoint from;
  Endpoint to;
  uint32_t next_ms = 0;
  Incarnation row_incarnation = 0;
  uint32_t row_version = 0;
  bool operator==(const HeartbeatMsg&) const = default;
};

// One path into the sender's adapters whose state is not its adapter's usual one.
struct RowEntry {
  Endpoint from;
  Endpoint to;
  PathState state = PathState::kDown;  // kUnknown, kUp or kDown
  bool operator==(const RowEntry&) const = default;
};

// The state of most paths into one of the sender's adapters, when it is not up.
struct RowDefault {
  Endpoint adapter;
  PathState state = PathState::kDown;  // kUnknown or kDown
  bool operator==(const RowDefault&) const = default;
};

// A node's row of the matrix: what it hears on its own adapters. Per adapter, the state most
// paths into it are in (up unless `defaults` says otherwise), and the paths in another state
// one by one. So a row is a few bytes whatever the cluster size, when all is well and also
// when a switch failed (every path into an adapter down) or a large network is in its first
// rotation (most paths still unknown).
struct RowMsg {
  Incarnation incarnation = 0;
  uint32_t version = 0;
  std::vector<RowEntry> entries;
  std::vector<RowDefault> defaults;
  bool operator==(const RowMsg&) const = default;
};

struct RowRequestMsg {
  bool operator==(const RowRequestMsg&) const = default;
};

// "Heartbeat me on the path from your adapter `from` to my adapter `to` now": sent (by any
// path) by a receiver whose heartbeat on that path is overdue, each period until the path's
// deadline. One lost heartbeat of a rotation is then made up in a round trip, not judged after
// another rotation: a path is down miss_limit periods after its heartbeat was due.
struct ProbeMsg {
  Endpoint from;
  Endpoint to;
  bool operator==(const ProbeMsg&) const = default;
};

using Message = std::variant<HeartbeatMsg, RowMsg, RowRequestMsg, ProbeMsg>;

Bytes Encode(const Message& m);
std::optional<Message> Decode(ByteView bytes);

}  // namespace cohort::liveness
