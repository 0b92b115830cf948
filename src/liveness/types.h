// Liveness value types (SPEC L1): adapters grouped in networks, the state of every directed
// path between two adapters, and the outputs the sans-I/O core hands to its driver.
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "base/endpoint.h"
#include "base/ids.h"
#include "base/time.h"
#include "wire/codec.h"

namespace cohort::liveness {

using wire::Bytes;
using wire::ByteView;

// A directed path from one adapter to another, as its receiver judges it: up while the
// sender's heartbeats arrive when it said they would, down once they stop, unknown until the
// first is due. kNone marks a pair that is no path (two adapters of one node).
enum class PathState : uint8_t { kUnknown = 0, kUp = 1, kDown = 2, kNone = 3 };
inline constexpr uint8_t kPathStateMax = 2;  // what a row may carry
const char* PathStateName(PathState s);

// An adapter is up while some other node hears it, down when every other node's adapter on
// its network has stopped hearing it, unknown before anyone could judge (or when it is alone
// on its network).
enum class AdapterState : uint8_t { kUnknown = 0, kUp = 1, kDown = 2 };
const char* AdapterStateName(AdapterState s);

// One adapter of one node. `network` groups the adapters that heartbeat each other: the
// operator's network name for the adapter's subnet (C11), or the subnet itself
// ("10.1.0.0/16") while no network maps it.
struct Adapter {
  NodeId node = kNoNode;
  Endpoint address;
  std::string network;
  bool operator==(const Adapter&) const = default;
};

// ---- outputs ----

// A heartbeat: `bytes` from local adapter `from` to `to`, on that path and no other.
struct SendVia {
  Endpoint from;
  Endpoint to;
  Bytes bytes;
};
// A message to `node` by any working path (the transport's failover).
struct SendTo {
  NodeId node = kNoNode;
  Bytes bytes;
};
// A message to every other node.
struct Broadcast {
  Bytes bytes;
};
struct PathChanged {
  Adapter from;
  Adapter to;
  PathState state = PathState::kUnknown;
};
struct AdapterChanged {
  Adapter adapter;
  AdapterState state = AdapterState::kUnknown;
};

// This node's hearing of `remote` changed: heard on one of its adapters at least, or on none
// (every path from it into this node down, or its network silent here: see core.h). The driver
// tells the transport, which marks the address reachable or not, so traffic leaves a dead path at
// once (RM3).
struct AddressHeard {
  Adapter remote;
  bool heard = false;
};

using Output = std::variant<SendVia, SendTo, Broadcast, PathChanged, AdapterChanged, AddressHeard>;
using Outputs = std::vector<Output>;

struct LivenessMetrics {
  uint64_t heartbeats_sent = 0;
  uint64_t heartbeats_received = 0;
  uint64_t heartbeat_bytes_sent = 0;  // payload bytes; the transport adds its seal and headers
  uint64_t probes_sent = 0;           // asks for a heartbeat on a path whose heartbeat is overdue
  uint64_t silences = 0;              // a network of this node's fell silent (see core.h)
  uint64_t rows_sent = 0;             // broadcasts and answers to row requests
  uint64_t rows_received = 0;
  uint64_t row_bytes_sent = 0;
  uint64_t row_bytes_received = 0;  // every row that arrived, taken or not
  uint64_t rejected = 0;            // undecodable, or a heartbeat that names a path it did not take
};

}  // namespace cohort::liveness
