#include "workload/catalog.h"

#include <algorithm>

#include "base/digest.h"
#include "wire/codec.h"

namespace cohort::workload {

bool OlderThan(const Version& a, const Version& b) {
  if (a.mtime_ns != b.mtime_ns) return a.mtime_ns < b.mtime_ns;
  if (a.sha256 != b.sha256) return a.sha256 < b.sha256;
  return a.bytes < b.bytes;
}

bool SameContent(const Version& a, const Version& b) {
  return a.bytes == b.bytes && a.sha256 == b.sha256;
}

const char* HoldingStateName(HoldingState state) {
  switch (state) {
    case HoldingState::kAvailable:
      return "available";
    case HoldingState::kStale:
      return "stale";
    case HoldingState::kNodeDown:
      return "node-down";
    case HoldingState::kDiskFailed:
      return "disk-failed";
    case HoldingState::kPathFailed:
      return "path-failed";
  }
  return "unknown";
}

uint64_t Catalog::ItemDigest(const Item& item) {
  wire::Bytes bytes;
  wire::Writer w(&bytes);
  w.Blob(std::span(reinterpret_cast<const uint8_t*>(item.path.data()), item.path.size()));
  w.Blob(std::span(reinterpret_cast<const uint8_t*>(item.disk.data()), item.disk.size()));
  w.U64(item.version.bytes);
  w.U64(static_cast<uint64_t>(item.version.mtime_ns));
  w.Raw(item.version.sha256);
  return Digest64(bytes);
}

void Catalog::ReplaceNode(NodeId node, uint64_t epoch, uint64_t seq,
                          const std::vector<Item>& items) {
  NodeFeed& feed = nodes_[node];
  const std::vector<std::string> held(feed.paths.begin(), feed.paths.end());
  for (const std::string& path : held) {
    auto it = paths_.find(path);
    if (it == paths_.end()) continue;
    auto& copies = it->second;
    const size_t before = copies.size();
    std::erase_if(copies, [&](const Copy& c) { return c.node == node; });
    copies_ -= before - copies.size();
    if (copies.empty()) paths_.erase(it);
  }
  feed.paths.clear();
  feed.digest = 0;
  feed.epoch = epoch;
  feed.seq = seq;
  for (const Item& item : items) Put(node, item);
}

FeedResult Catalog::Apply(NodeId node, uint64_t epoch, uint64_t seq, const Change& change) {
  auto it = nodes_.find(node);
  if (it == nodes_.end() || epoch > it->second.epoch) return FeedResult::kNeedFull;
  NodeFeed& feed = it->second;
  if (epoch < feed.epoch || seq <= feed.seq) return FeedResult::kIgnored;
  if (seq != feed.seq + 1) return FeedResult::kNeedFull;
  feed.seq = seq;
  if (change.kind == Change::Kind::kPut) {
    Put(node, change.item);
  } else {
    Remove(node, change.item.path, change.item.disk);
  }
  return FeedResult::kApplied;
}

void Catalog::RemoveNode(NodeId node) {
  ReplaceNode(node, 0, 0, {});
  nodes_.erase(node);
}

void Catalog::SetNodeUp(NodeId node, bool up) { nodes_[node].up = up; }

void Catalog::SetDisk(NodeId node, std::string_view disk, DiskHealth health) {
  auto& disks = nodes_[node].disks;
  if (health == DiskHealth::kWorking) {
    if (auto it = disks.find(disk); it != disks.end()) disks.erase(it);
  } else {
    disks.insert_or_assign(std::string(disk), health);
  }
}

void Catalog::Put(NodeId node, const Item& item) {
  Remove(node, item.path, item.disk);
  paths_[item.path].push_back(Copy{node, item.disk, item.version});
  ++copies_;
  NodeFeed& feed = nodes_[node];
  feed.paths.insert(item.path);
  feed.digest += ItemDigest(item);
}

void Catalog::Remove(NodeId node, std::string_view path, std::string_view disk) {
  auto it = paths_.find(path);
  if (it == paths_.end()) return;
  auto& copies = it->second;
  NodeFeed& feed = nodes_[node];
  auto copy = std::find_if(copies.begin(), copies.end(),
                           [&](const Copy& c) { return c.node == node && c.disk == disk; });
  if (copy == copies.end()) return;
  feed.digest -= ItemDigest(Item{std::string(path), copy->disk, copy->version});
  copies.erase(copy);
  --copies_;
  const bool still_held =
      std::any_of(copies.begin(), copies.end(), [&](const Copy& c) { return c.node == node; });
  if (!still_held) {
    if (auto p = feed.paths.find(path); p != feed.paths.end()) feed.paths.erase(p);
  }
  if (copies.empty()) paths_.erase(it);
}

const Version* Catalog::CurrentOf(const std::vector<Copy>& copies) const {
  const Version* newest = nullptr;
  for (const Copy& c : copies) {
    if (newest == nullptr || OlderThan(*newest, c.version)) newest = &c.version;
  }
  return newest;
}

HoldingState Catalog::StateOfCopy(const Copy& copy, const Version& current) const {
  if (!SameContent(copy.version, current)) return HoldingState::kStale;
  auto it = nodes_.find(copy.node);
  if (it == nodes_.end()) return HoldingState::kNodeDown;
  const NodeFeed& feed = it->second;
  if (!feed.up) return HoldingState::kNodeDown;
  if (!copy.disk.empty()) {
    if (auto d = feed.disks.find(copy.disk); d != feed.disks.end()) {
      return d->second == DiskHealth::kFailed ? HoldingState::kDiskFailed
                                              : HoldingState::kPathFailed;
    }
  }
  return HoldingState::kAvailable;
}

std::vector<Holding> Catalog::Lookup(std::string_view path) const {
  std::vector<Holding> out;
  auto it = paths_.find(path);
  if (it == paths_.end()) return out;
  const Version& current = *CurrentOf(it->second);
  for (const Copy& c : it->second) {
    out.push_back(Holding{c.node, c.disk, c.version, StateOfCopy(c, current)});
  }
  std::stable_sort(out.begin(), out.end(), [](const Holding& a, const Holding& b) {
    if (a.state != b.state) return a.state < b.state;
    return a.node != b.node ? a.node < b.node : a.disk < b.disk;
  });
  return out;
}

std::optional<Version> Catalog::Current(std::string_view path) const {
  auto it = paths_.find(path);
  if (it == paths_.end()) return std::nullopt;
  return *CurrentOf(it->second);
}

std::vector<std::pair<NodeId, std::string>> Catalog::Servable(std::string_view path) const {
  std::vector<std::pair<NodeId, std::string>> out;
  auto it = paths_.find(path);
  if (it == paths_.end()) return out;
  const Version& current = *CurrentOf(it->second);
  for (const Copy& c : it->second) {
    if (StateOfCopy(c, current) != HoldingState::kAvailable) continue;
    // One copy per node: the content root's before a disk's.
    auto same =
        std::find_if(out.begin(), out.end(), [&](const auto& h) { return h.first == c.node; });
    if (same == out.end()) {
      out.emplace_back(c.node, c.disk);
    } else if (c.disk < same->second) {
      same->second = c.disk;
    }
  }
  return out;
}

HoldingState Catalog::StateOf(std::string_view path, NodeId node, std::string_view disk) const {
  auto it = paths_.find(path);
  if (it == paths_.end()) return HoldingState::kNodeDown;
  const Version& current = *CurrentOf(it->second);
  for (const Copy& c : it->second) {
    if (c.node == node && c.disk == disk) return StateOfCopy(c, current);
  }
  return HoldingState::kNodeDown;
}

std::vector<std::string> Catalog::Page(std::string_view prefix, std::string_view after, NodeId node,
                                       size_t limit, bool* more) const {
  std::vector<std::string> out;
  *more = false;
  auto it = after.empty() ? paths_.lower_bound(prefix) : paths_.upper_bound(after);
  if (it != paths_.end() && it->first < prefix) it = paths_.lower_bound(prefix);
  for (; it != paths_.end() && it->first.starts_with(prefix); ++it) {
    if (node != kNoNode && std::none_of(it->second.begin(), it->second.end(),
                                        [&](const Copy& c) { return c.node == node; })) {
      continue;
    }
    if (out.size() == limit) {
      *more = true;
      break;
    }
    out.push_back(it->first);
  }
  return out;
}

uint64_t Catalog::DigestOf(NodeId node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? 0 : it->second.digest;
}

std::optional<uint64_t> Catalog::EpochOf(NodeId node) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.epoch;
}

std::optional<uint64_t> Catalog::SeqOf(NodeId node) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.seq;
}

size_t Catalog::CopiesOf(NodeId node) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return 0;
  size_t n = 0;
  for (const std::string& path : it->second.paths) {
    const auto& copies = paths_.find(path)->second;
    n += static_cast<size_t>(
        std::count_if(copies.begin(), copies.end(), [&](const Copy& c) { return c.node == node; }));
  }
  return n;
}

}  // namespace cohort::workload
