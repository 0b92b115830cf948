#include "workload/placement.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/digest.h"

namespace cohort::workload {
namespace {

uint64_t Score(uint64_t content, NodeId node) {
  return Mix64(content ^ (uint64_t{node} * 0x9e3779b97f4a7c15ULL));
}

// Holders by descending score; equal scores (vanishingly rare) by node id.
std::vector<const Holder*> Ordered(uint64_t content, std::span<const Holder> holders) {
  std::vector<const Holder*> order;
  order.reserve(holders.size());
  for (const Holder& h : holders) order.push_back(&h);
  std::sort(order.begin(), order.end(), [&](const Holder* a, const Holder* b) {
    const uint64_t sa = Score(content, a->node), sb = Score(content, b->node);
    return sa != sb ? sa > sb : a->node < b->node;
  });
  return order;
}

bool Avoided(const PlaceInput& in, NodeId node) {
  return std::find(in.avoid.begin(), in.avoid.end(), node) != in.avoid.end();
}

bool HasRoom(const Holder& h, uint64_t bitrate) {
  return h.capacity_kbps == 0 ||
         (h.load_kbps <= h.capacity_kbps && bitrate <= h.capacity_kbps - h.load_kbps);
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t ContentHash(std::string_view path) {
  return Digest64(std::span(reinterpret_cast<const uint8_t*>(path.data()), path.size()));
}

std::vector<NodeId> RankHolders(uint64_t content, std::span<const Holder> holders) {
  std::vector<NodeId> nodes;
  for (const Holder* h : Ordered(content, holders)) nodes.push_back(h->node);
  return nodes;
}

uint64_t LoadBound(const PlaceInput& in, const Holder& holder) {
  const ClusterLoad& c = in.cluster;
  // Shares by capacity only when every node states one; otherwise equal shares.
  const bool weighted = c.nodes > 0 && c.nodes_with_capacity == c.nodes && c.capacity_kbps > 0 &&
                        holder.capacity_kbps > 0;
  const double share =
      weighted ? static_cast<double>(holder.capacity_kbps) / static_cast<double>(c.capacity_kbps)
               : 1.0 / static_cast<double>(std::max<uint32_t>(c.nodes, 1));
  const double after = static_cast<double>(c.load_kbps) + static_cast<double>(in.bitrate_kbps);
  const double bound = std::ceil((1.0 + std::max(in.balance, 0.0)) * after * share);
  if (!(bound < static_cast<double>(std::numeric_limits<uint64_t>::max()))) {
    return std::numeric_limits<uint64_t>::max();
  }
  // Never below the floor, a share of the node's own capacity (none stated: no floor)...
  const auto floor = static_cast<uint64_t>(std::clamp(in.balance_floor, 0.0, 1.0) *
                                           static_cast<double>(holder.capacity_kbps));
  // ...and, as in the bound counted in sessions, a node with none may always take one.
  return std::max({static_cast<uint64_t>(bound), floor, in.bitrate_kbps});
}

Placement Place(const PlaceInput& in) {
  const std::vector<const Holder*> order = Ordered(in.content, in.holders);
  // The candidates: holders not avoided, with room for the session, in rank order.
  std::vector<std::pair<uint32_t, const Holder*>> room;
  bool any = false;
  for (uint32_t rank = 0; rank < order.size(); ++rank) {
    const Holder& h = *order[rank];
    if (Avoided(in, h.node)) continue;
    any = true;
    if (HasRoom(h, in.bitrate_kbps)) room.emplace_back(rank, &h);
  }
  if (room.empty()) return Placement{any ? PlaceOutcome::kNoCapacity : PlaceOutcome::kNoHolder};
  const auto fill = [&](const Holder& h) {
    return static_cast<double>(h.load_kbps + in.bitrate_kbps) /
           static_cast<double>(LoadBound(in, h));
  };
  const auto& [first_rank, first] = room.front();
  if (first_rank == 0 && fill(*first) <= 1.0) {
    return Placement{PlaceOutcome::kPlaced, first->node, 0};
  }
  // Past its first choice, the session goes to the candidate least filled toward its bound:
  // in rank order, a title's overflow would fill its second choice to the bound and push out
  // the titles ranking that node first (in the simulator this keeps about three points more
  // of the sessions on their first choice).
  const auto least = std::min_element(room.begin(), room.end(), [&](const auto& a, const auto& b) {
    return fill(*a.second) < fill(*b.second);
  });
  const bool within = fill(*least->second) <= 1.0;
  return Placement{within ? PlaceOutcome::kPlaced : PlaceOutcome::kPlacedOverBound,
                   least->second->node, least->first};
}

const char* PlaceOutcomeName(PlaceOutcome outcome) {
  switch (outcome) {
    case PlaceOutcome::kPlaced:
      return "placed";
    case PlaceOutcome::kPlacedOverBound:
      return "placed over the bound";
    case PlaceOutcome::kNoCapacity:
      return "no capacity";
    case PlaceOutcome::kNoHolder:
      return "no holder";
    case PlaceOutcome::kNotReady:
      return "not ready";
  }
  return "unknown";
}

}  // namespace cohort::workload
