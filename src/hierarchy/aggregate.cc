#include "hierarchy/aggregate.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace cohort::hierarchy {
namespace {

using membership::MemberState;

constexpr uint8_t kVersion = 1;

DiskState Combined(DiskState a, DiskState b) {
  if (a == b) return a;
  return DiskState::kDegraded;  // reached from one part and not from another
}

void AddDisk(std::vector<DiskSummary>& disks, const DiskSummary& d) {
  auto at =
      std::lower_bound(disks.begin(), disks.end(), d.disk,
                       [](const DiskSummary& x, const std::string& id) { return x.disk < id; });
  if (at == disks.end() || at->disk != d.disk) {
    disks.insert(at, d);
    return;
  }
  at->state = Combined(at->state, d.state);
  // The larger report (then the one with more free), whatever the order the parts came in.
  if (std::pair(d.total_bytes, d.free_bytes) > std::pair(at->total_bytes, at->free_bytes)) {
    at->total_bytes = d.total_bytes;
    at->free_bytes = d.free_bytes;
  }
}

// One plain member's share.
Aggregate OfMember(bool up, const membership::NodeUsage* usage) {
  Aggregate a;
  a.members = 1;
  if (!up) return a;
  a.members_up = 1;
  if (usage == nullptr || usage->capacity_mbps == 0) {
    a.capacity_unknown = 1;
    return a;
  }
  a.capacity_mbps = usage->capacity_mbps;
  const uint64_t used_mbps = usage->tx_bps / 1'000'000;
  a.free_mbps = a.capacity_mbps - std::min(a.capacity_mbps, used_mbps);
  return a;
}

// Figures from a peer are hostile: sums stop at the type's maximum instead of wrapping
// (which would let members up exceed members).
template <typename T>
void AddTo(T& into, T part) {
  into = part > std::numeric_limits<T>::max() - into ? std::numeric_limits<T>::max() : into + part;
}

void AddCounts(DiskCounts& into, const DiskCounts& part) {
  AddTo(into.ok, part.ok);
  AddTo(into.degraded, part.degraded);
  AddTo(into.failed, part.failed);
  AddTo(into.total_bytes, part.total_bytes);
  AddTo(into.free_bytes, part.free_bytes);
}

DiskCounts CountList(const std::vector<DiskSummary>& disks) {
  DiskCounts c;
  for (const DiskSummary& d : disks) {
    uint32_t& n = d.state == DiskState::kOk         ? c.ok
                  : d.state == DiskState::kDegraded ? c.degraded
                                                    : c.failed;
    AddTo(n, uint32_t{1});
    AddTo(c.total_bytes, d.total_bytes);
    AddTo(c.free_bytes, std::min(d.free_bytes, d.total_bytes));
  }
  return c;
}

// Past the limit the whole list is counted instead.
void Bound(Aggregate& a) {
  if (a.disks.size() <= kMaxListedDisks) return;
  AddCounts(a.unlisted, CountList(a.disks));
  a.disks.clear();
}

// A sub-cluster whose node is not up: its members all count as down, its disks as failed.
Aggregate Unreachable(const Aggregate& last) {
  Aggregate a;
  a.members = last.members;
  a.disks = last.disks;
  for (DiskSummary& d : a.disks) d.state = DiskState::kFailed;
  a.unlisted = last.unlisted;
  AddTo(a.unlisted.failed, a.unlisted.ok);
  AddTo(a.unlisted.failed, a.unlisted.degraded);
  a.unlisted.ok = a.unlisted.degraded = 0;
  return a;
}

}  // namespace

void Add(Aggregate& into, const Aggregate& part) {
  AddTo(into.members, part.members);
  AddTo(into.members_up, part.members_up);
  AddTo(into.capacity_mbps, part.capacity_mbps);
  AddTo(into.free_mbps, part.free_mbps);
  AddTo(into.capacity_unknown, part.capacity_unknown);
  for (const DiskSummary& d : part.disks) AddDisk(into.disks, d);
  AddCounts(into.unlisted, part.unlisted);
  Bound(into);
}

DiskCounts CountDisks(const Aggregate& a) {
  DiskCounts c = CountList(a.disks);
  AddCounts(c, a.unlisted);
  return c;
}

Aggregate OfCluster(const membership::ClusterMap& map,
                    const std::vector<membership::UsageRow>& usage,
                    const std::map<NodeId, Aggregate>& sub_clusters) {
  std::map<NodeId, const membership::NodeUsage*> usage_of;
  for (const membership::UsageRow& row : usage) usage_of[row.node] = &row.usage;
  Aggregate out;
  for (const auto& [id, member] : map.members) {
    if (member.state == MemberState::kLeft) continue;
    const bool up = member.state == MemberState::kUp;
    if (auto sub = sub_clusters.find(id); sub != sub_clusters.end()) {
      Add(out, up ? sub->second : Unreachable(sub->second));
      continue;
    }
    auto u = usage_of.find(id);
    Add(out, OfMember(up, u == usage_of.end() ? nullptr : u->second));
  }
  for (const auto& [id, entry] : map.disks) {
    DiskSummary d{id, map.StateOf(entry), 0, 0};
    for (const auto& [node, path] : entry.paths) {
      auto u = usage_of.find(node);
      if (u == usage_of.end() || !map.IsUp(node)) continue;
      for (const membership::DiskUsage& du : u->second->disks) {
        if (du.disk == id && du.total_bytes > d.total_bytes) {
          d.total_bytes = du.total_bytes;
          d.free_bytes = std::min(du.free_bytes, du.total_bytes);
        }
      }
    }
    AddDisk(out.disks, d);
  }
  Bound(out);
  return out;
}

// What is sent always decodes: counts are held to what the decoder demands, disks put in
// order once each (and counted instead past the limit), and disks whose id cannot be sent
// (configuration validates ids, so none in practice) left out.
wire::Bytes Encode(const Aggregate& a) {
  std::vector<DiskSummary> disks;
  for (const DiskSummary& d : a.disks) {
    if (d.disk.empty() || d.disk.size() > kMaxDiskIdBytes) continue;
    DiskSummary kept = d;
    kept.free_bytes = std::min(d.free_bytes, d.total_bytes);
    AddDisk(disks, kept);
  }
  DiskCounts unlisted = a.unlisted;
  unlisted.free_bytes = std::min(unlisted.free_bytes, unlisted.total_bytes);
  if (disks.size() > kMaxListedDisks) {
    AddCounts(unlisted, CountList(disks));
    disks.clear();
  }
  const uint32_t up = std::min(a.members_up, a.members);
  wire::Bytes out;
  wire::Writer w(&out);
  w.U8(kVersion);
  w.U32(a.members);
  w.U32(up);
  w.U64(a.capacity_mbps);
  w.U64(std::min(a.free_mbps, a.capacity_mbps));
  w.U32(std::min(a.capacity_unknown, up));
  w.U32(unlisted.ok);
  w.U32(unlisted.degraded);
  w.U32(unlisted.failed);
  w.U64(unlisted.total_bytes);
  w.U64(unlisted.free_bytes);
  w.U16(static_cast<uint16_t>(disks.size()));
  for (const DiskSummary& d : disks) {
    w.U8(static_cast<uint8_t>(d.disk.size()));
    w.Raw(wire::ByteView(reinterpret_cast<const uint8_t*>(d.disk.data()), d.disk.size()));
    w.U8(static_cast<uint8_t>(d.state));
    w.U64(d.total_bytes);
    w.U64(d.free_bytes);
  }
  return out;
}

std::optional<Aggregate> Decode(wire::ByteView bytes) {
  wire::Reader r(bytes);
  Aggregate a;
  uint8_t version = 0;
  uint16_t disks = 0;
  r.U8(&version);
  r.U32(&a.members);
  r.U32(&a.members_up);
  r.U64(&a.capacity_mbps);
  r.U64(&a.free_mbps);
  r.U32(&a.capacity_unknown);
  r.U32(&a.unlisted.ok);
  r.U32(&a.unlisted.degraded);
  r.U32(&a.unlisted.failed);
  r.U64(&a.unlisted.total_bytes);
  r.U64(&a.unlisted.free_bytes);
  r.U16(&disks);
  if (!r.ok() || version != kVersion || a.members_up > a.members ||
      a.capacity_unknown > a.members_up || a.free_mbps > a.capacity_mbps ||
      a.unlisted.free_bytes > a.unlisted.total_bytes || disks > kMaxListedDisks) {
    return std::nullopt;
  }
  for (uint16_t i = 0; i < disks; ++i) {
    uint8_t len = 0, state = 0;
    wire::ByteView id;
    DiskSummary d;
    if (!r.U8(&len) || len == 0 || !r.Raw(len, &id) || !r.U8(&state) ||
        state > static_cast<uint8_t>(DiskState::kFailed) || !r.U64(&d.total_bytes) ||
        !r.U64(&d.free_bytes) || d.free_bytes > d.total_bytes) {
      return std::nullopt;
    }
    d.disk.assign(id.begin(), id.end());
    d.state = static_cast<DiskState>(state);
    if (!a.disks.empty() && a.disks.back().disk >= d.disk) return std::nullopt;  // canonical
    a.disks.push_back(std::move(d));
  }
  if (!r.done()) return std::nullopt;
  return a;
}

}  // namespace cohort::hierarchy
