// Placement (W2): which node serves a new stream session. Pure functions, sans-I/O.
//
// Intuition. Each piece of content ranks the nodes holding it by rendezvous hashing (highest
// random weight): an order of its own per path, stable while the holders stay, so the
// sessions of one title go to one node while it has room (its page cache stays warm), and a
// holder that fails moves only its own share. Load is bounded as in consistent hashing with
// bounded loads (Mirrokni, Thorup, Zadimoghaddam; HAProxy's hash-balance-factor): a node
// takes the session only if its load with it stays within (1 + balance) times its fair
// share of the cluster's load with it, the share weighted by its capacity. The title's first
// choice takes the session if it has room and stays within the bound; otherwise the holder
// with room least filled toward its bound takes it (over the bound only if every holder with
// room is); if none has room, the session is refused (admission control).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/ids.h"

namespace cohort::workload {

// A node that holds the content and can serve it now (the caller leaves out nodes that are
// down and copies on failed disks or paths).
struct Holder {
  NodeId node = kNoNode;
  uint64_t load_kbps = 0;      // the bitrates of the sessions placed on it
  uint64_t capacity_kbps = 0;  // its streaming capacity; 0: not stated, no limit
  bool operator==(const Holder&) const = default;
};

// Totals over every node that is up, holding the content or not.
struct ClusterLoad {
  uint64_t load_kbps = 0;
  uint64_t capacity_kbps = 0;  // of the nodes that state one
  uint32_t nodes = 0;
  uint32_t nodes_with_capacity = 0;
};

struct PlaceInput {
  uint64_t content = 0;  // ContentHash(path)
  uint64_t bitrate_kbps = 0;
  std::span<const Holder> holders;
  std::span<const NodeId> avoid;  // e.g. the node a reconnecting client has left
  ClusterLoad cluster;
  double balance = 0.25;  // no node above (1 + balance) times its fair share
  // ... unless below this share of its stated capacity: at light load, sessions stay on
  // their title's first choice (its page cache warm) instead of being spread for nothing.
  double balance_floor = 0.1;
};

enum class PlaceOutcome : uint8_t {
  kPlaced,           // the first choice, or the holder least filled toward its bound
  kPlacedOverBound,  // every holder with room was over the bound: the least over took it
  kNoCapacity,       // no holder has room for the bitrate
  kNoHolder,         // no holder (or only avoided ones)
  kNotReady,         // a new supervisor still gathering the catalog: ask again shortly
};

struct Placement {
  PlaceOutcome outcome = PlaceOutcome::kNoHolder;
  NodeId node = kNoNode;
  uint32_t rank = 0;  // the chosen node's place in the content's order, 0 = first
};

uint64_t ContentHash(std::string_view path);
// SplitMix64's finaliser: every bit of the input moves every bit of the result.
uint64_t Mix64(uint64_t x);
// The holders' nodes in the content's rendezvous order, first choice first.
std::vector<NodeId> RankHolders(uint64_t content, std::span<const Holder> holders);
// The most load `holder` may carry after taking a session of `bitrate_kbps` (the bound).
uint64_t LoadBound(const PlaceInput& in, const Holder& holder);
Placement Place(const PlaceInput& in);
const char* PlaceOutcomeName(PlaceOutcome outcome);

}  // namespace cohort::workload
