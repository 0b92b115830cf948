// The built-in resource classes (RM1) and a node's inventory of them (C9). At every join,
// and whenever what it finds changes, a node discovers its own resources — the node itself,
// its network adapters, its disks and the content under its content root — and writes them
// to the registry as its inventory. Placement reads the inventories (content a resource
// needs, the capacity a node offers); people read them as the built-in classes' resources.
//
// A resource that was there and is no longer found is not dropped: it stays in the
// inventory marked missing, with the time it was first missed, until it comes back.
//
// Sans I/O: the daemon discovers (node/inventory_scan.h), this merges and compares.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"

namespace cohort::resources {

enum class BuiltinClass { kNode, kAdapter, kDisk, kContent };
const char* BuiltinClassName(BuiltinClass c);
std::optional<BuiltinClass> ParseBuiltinClass(const std::string& name);
inline constexpr BuiltinClass kBuiltinClasses[] = {BuiltinClass::kNode, BuiltinClass::kAdapter,
                                                   BuiltinClass::kDisk, BuiltinClass::kContent};

// Whether an inventoried resource is still found, and since when it is not.
struct Presence {
  bool present = true;
  int64_t missing_since_ms = 0;  // Unix ms; 0 while present
  bool operator==(const Presence&) const = default;
};

struct AdapterItem {
  std::string address;     // "a.b.c.d:port", the adapter's name
  uint8_t prefix_len = 0;  // its subnet mask, as a prefix length
  std::string interface;   // the OS interface it is on ("" if unknown)
  Presence presence;
  bool operator==(const AdapterItem&) const = default;
};

struct DiskItem {
  std::string id;  // the disk's name in the node's configuration (ValidDiskId)
  std::string mount;
  uint64_t total_bytes = 0;  // 0 until a check has read it
  Presence presence;
  bool operator==(const DiskItem&) const = default;
};

struct ContentItem {
  std::string path;  // relative to the content root
  uint64_t bytes = 0;
  Presence presence;
  bool operator==(const ContentItem&) const = default;
};

// Limits an inventory is held to (a content root may hold far more files).
inline constexpr size_t kMaxInventoryAdapters = 64;
inline constexpr size_t kMaxInventoryDisks = 256;
inline constexpr size_t kMaxInventoryContent = 5000;
// Missing entries kept per class; the oldest missing go first beyond this.
inline constexpr size_t kMaxMissingKept = 500;

struct Inventory {
  NodeId node = kNoNode;
  std::string name;            // the node's name
  uint32_t capacity_mbps = 0;  // streaming capacity, as in the node usage table (M12)
  int64_t discovered_ms = 0;   // Unix ms of the discovery written
  // Unix ms when the daemon run that wrote it started: a new value is a join (C9), written
  // even when nothing else changed. 0: written by a version that did not say.
  int64_t joined_ms = 0;
  std::map<std::string, AdapterItem> adapters;  // by address
  std::map<std::string, DiskItem> disks;        // by id
  std::map<std::string, ContentItem> content;   // by path
  // More files than kMaxInventoryContent under the root: the first ones (in path order) only.
  bool content_truncated = false;
  bool operator==(const Inventory&) const = default;
};

// The inventory to write after a discovery: what was found is present; what `before` held
// and was not found is kept as missing (since `now_ms`, or since it first went missing).
// Ignores `discovered_ms` of both when comparing, so an unchanged discovery merges to `before`.
Inventory Merge(const Inventory& before, const Inventory& found, int64_t now_ms);

// What changed between two inventories of one node: "class name" entries, for the
// configuration-changed event.
struct InventoryChange {
  std::vector<std::string> added;    // new, or back after missing
  std::vector<std::string> missing;  // newly missing
  std::vector<std::string> changed;  // present before and after, with other attributes
  bool joined = false;               // written by the node at a join of its own (JoinHistory)
  bool empty() const { return !joined && added.empty() && missing.empty() && changed.empty(); }
};
InventoryChange Compare(const Inventory& before, const Inventory& after);

// The joins seen of each node: a join is a `joined_ms` not seen before from that node. Kept
// apart from the inventories themselves, so that a deleted and rewritten record, or a read
// of every record after a watch broke, is no join.
class JoinHistory {
 public:
  // Whether `inventory` tells of a join not seen before; remembers it.
  bool Joined(const Inventory& inventory);

 private:
  std::map<NodeId, int64_t> seen_;  // the latest joined_ms of each node
};

// Whether the node holds `path` (present in its inventory).
bool Holds(const Inventory& inventory, const std::string& path);

// A class's description (RM1): its attributes with their types, and its actions.
struct AttributeDescription {
  std::string name;
  std::string type;  // "string", "uint", "address", "path", "bool", "state"
  std::string description;
};
struct ClassDescription {
  std::string name;
  std::string description;
  std::vector<AttributeDescription> attributes;
  std::vector<std::string> actions;
  bool builtin = false;  // discovered by the nodes, not defined by operators
};
// Every class: the four built-in ones, then ocf and process.
std::vector<ClassDescription> ClassDescriptions();

}  // namespace cohort::resources
