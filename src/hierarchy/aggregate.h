// M14: the figures a sub-cluster shows its parent cluster, where the whole sub-cluster is one
// node — how many of its members are up, the streaming capacity they offer and have free,
// and its disks with their states and space. A cluster's aggregate sums its members' shares;
// a member that stands for a sub-cluster brings that sub-cluster's aggregate, so levels nest.
// Plain values; decoding is total and canonical (docs/design/hierarchy.md).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "membership/types.h"
#include "wire/codec.h"

namespace cohort::hierarchy {

using membership::DiskState;

struct DiskSummary {
  std::string disk;  // the id every node that reaches it uses (M11)
  DiskState state = DiskState::kOk;
  uint64_t total_bytes = 0;  // as its reporters last measured (0: unknown)
  uint64_t free_bytes = 0;
  bool operator==(const DiskSummary&) const = default;
};

// Disks counted by state, with their space, instead of listed one by one.
struct DiskCounts {
  uint32_t ok = 0;
  uint32_t degraded = 0;
  uint32_t failed = 0;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  bool operator==(const DiskCounts&) const = default;
};

struct Aggregate {
  uint32_t members = 0;            // leaf members: up, joining or failed (not those that left)
  uint32_t members_up = 0;         // of them, up
  uint64_t capacity_mbps = 0;      // streaming capacity of the members up that state one
  uint64_t free_mbps = 0;          // of it, not in use now
  uint32_t capacity_unknown = 0;   // members up that state no capacity
  std::vector<DiskSummary> disks;  // by id, ascending; at most kMaxListedDisks
  DiskCounts unlisted;             // the disks beyond the list, counted
  bool operator==(const Aggregate&) const = default;
};

// A cluster's aggregate lists its disks while they are at most this many; beyond, all of
// them are counted instead, so an aggregate's size does not grow with the tree below it.
inline constexpr size_t kMaxListedDisks = 64;
// Encode()'s size for an aggregate that lists no disk (they are counted): version, members,
// up, capacity, free, unknown, ok, degraded, failed, total bytes, free bytes, disks listed.
// Change it with Encode (view_test checks them against each other).
inline constexpr size_t kCountedAggregateBytes = 1 + 4 + 4 + 8 + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 2;
inline constexpr size_t kMaxDiskIdBytes = 255;

// The aggregate of a cluster from its map, its supervisor's usage table and the aggregates
// of the members that stand for sub-clusters (by node id). A sub-cluster whose node is not
// up counts as its members, none of them up, and its disks as failed.
Aggregate OfCluster(const membership::ClusterMap& map,
                    const std::vector<membership::UsageRow>& usage,
                    const std::map<NodeId, Aggregate>& sub_clusters);

// Adds `part` to `into`: counts summed, disks merged by id (the same disk seen ok from one
// part and failed from another is degraded; space: the larger report, then the freer) —
// and counted instead once the list would pass kMaxListedDisks. A disk counted in one part
// and reached from another is counted twice: counts cannot tell disks apart.
void Add(Aggregate& into, const Aggregate& part);
// Every disk of `a`, listed or not, counted.
DiskCounts CountDisks(const Aggregate& a);

// Always decodes: counts held to the decoder's rules, disks ordered and merged by id.
wire::Bytes Encode(const Aggregate& a);
std::optional<Aggregate> Decode(wire::ByteView bytes);

}  // namespace cohort::hierarchy
