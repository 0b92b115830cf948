#include "resources/inventory.h"

#include <algorithm>

namespace cohort::resources {
namespace {

// `found` present; what only `before` holds kept as missing, the longest missing dropped
// beyond kMaxMissingKept.
template <typename Item>
std::map<std::string, Item> MergeItems(const std::map<std::string, Item>& before,
                                       const std::map<std::string, Item>& found, int64_t now_ms) {
  std::map<std::string, Item> out;
  for (const auto& [key, item] : found) {
    Item kept = item;
    kept.presence = Presence{};
    out.emplace(key, std::move(kept));
  }
  std::vector<std::pair<int64_t, std::string>> missing;
  for (const auto& [key, item] : before) {
    if (out.count(key) != 0) continue;
    Item kept = item;
    if (kept.presence.present) kept.presence = Presence{false, now_ms};
    missing.emplace_back(kept.presence.missing_since_ms, key);
    out.emplace(key, std::move(kept));
  }
  if (missing.size() > kMaxMissingKept) {
    std::sort(missing.begin(), missing.end());
    for (size_t i = 0; i < missing.size() - kMaxMissingKept; ++i) out.erase(missing[i].second);
  }
  return out;
}

template <typename Item>
void CompareItems(const char* cls, const std::map<std::string, Item>& before,
                  const std::map<std::string, Item>& after, InventoryChange& change) {
  for (const auto& [key, item] : after) {
    const std::string name = std::string(cls) + " " + key;
    auto was = before.find(key);
    const bool was_present = was != before.end() && was->second.presence.present;
    if (item.presence.present && !was_present) {
      change.added.push_back(name);
    } else if (!item.presence.present && (was == before.end() || was_present)) {
      change.missing.push_back(name);
    } else if (item.presence.present && !(item == was->second)) {
      change.changed.push_back(name);
    }
  }
  // An entry dropped altogether (kept missing too long) was reported missing already.
}

}  // namespace

const char* BuiltinClassName(BuiltinClass c) {
  switch (c) {
    case BuiltinClass::kNode:
      return "node";
    case BuiltinClass::kAdapter:
      return "adapter";
    case BuiltinClass::kDisk:
      return "disk";
    case BuiltinClass::kContent:
      return "content";
  }
  return "?";
}

std::optional<BuiltinClass> ParseBuiltinClass(const std::string& name) {
  for (BuiltinClass c : kBuiltinClasses) {
    if (name == BuiltinClassName(c)) return c;
  }
  return std::nullopt;
}

Inventory Merge(const Inventory& before, const Inventory& found, int64_t now_ms) {
  Inventory out = found;
  out.adapters = MergeItems(before.adapters, found.adapters, now_ms);
  out.disks = MergeItems(before.disks, found.disks, now_ms);
  out.content = MergeItems(before.content, found.content, now_ms);
  Inventory unchanged = out;
  unchanged.discovered_ms = before.discovered_ms;
  return unchanged == before ? before : out;
}

bool JoinHistory::Joined(const Inventory& inventory) {
  if (inventory.joined_ms == 0) return false;  // written by a version that did not say
  auto [seen, first] = seen_.try_emplace(inventory.node, inventory.joined_ms);
  if (first) return true;
  const bool joined = seen->second != inventory.joined_ms;
  seen->second = inventory.joined_ms;
  return joined;
}

InventoryChange Compare(const Inventory& before, const Inventory& after) {
  InventoryChange change;
  if (before.node == kNoNode && after.node != kNoNode) {
    change.added.push_back("node " + std::to_string(after.node));
  }
  CompareItems("adapter", before.adapters, after.adapters, change);
  CompareItems("disk", before.disks, after.disks, change);
  CompareItems("content", before.content, after.content, change);
  if (before.node != kNoNode &&
      (before.name != after.name || before.capacity_mbps != after.capacity_mbps)) {
    change.changed.push_back("node " + std::to_string(after.node));
  }
  return change;
}

bool Holds(const Inventory& inventory, const std::string& path) {
  auto it = inventory.content.find(path);
  return it != inventory.content.end() && it->second.presence.present;
}

std::vector<ClassDescription> ClassDescriptions() {
  const std::string presence = "present, or missing since missing_since_ms";
  return {
      {"node",
       "a member of the cluster; its state is the membership's",
       {{"id", "uint", "node number"},
        {"name", "string", "node name"},
        {"state", "state", "up, joining, failed, left (the cluster map), unknown"},
        {"capacity_mbps", "uint", "streaming capacity, as in the node usage table"}},
       {"rescan"},
       true},
      {"adapter",
       "a network adapter of a node; its state is the liveness subsystem's",
       {{"address", "address", "the adapter's address and port"},
        {"prefix_len", "uint", "its subnet mask"},
        {"interface", "string", "the OS interface"},
        {"state", "state", "up, down or unknown (liveness); " + presence}},
       {"rescan"},
       true},
      {"disk",
       "a disk a node uses; its state is the disk checks' (M11)",
       {{"id", "string", "the disk's name in the node's configuration"},
        {"mount", "path", "where it is mounted"},
        {"total_bytes", "uint", "its size"},
        {"state", "state", "ok, failed or unknown (the access table); " + presence}},
       {"rescan"},
       true},
      {"content",
       "a file under a node's content root",
       {{"path", "path", "relative to the content root"},
        {"bytes", "uint", "its size"},
        {"state", "state", presence}},
       {"rescan"},
       true},
      {"ocf",
       "an OCF resource agent run unchanged; its parameters are in its meta-data",
       {{"agent", "string", "<provider>:<type>"}, {"params", "map", "OCF_RESKEY_<name>"}},
       {"start", "stop", "monitor", "meta-data", "validate-all"},
       false},
      {"process",
       "a command kept running",
       {{"agent", "string", "the command, run by /bin/sh"}},
       {"start", "stop", "monitor"},
       false},
  };
}

}  // namespace cohort::resources
