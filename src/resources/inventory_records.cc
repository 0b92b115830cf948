// A node's inventory as the JSON record inventory/<node> (records.h). Written by the node
// itself, but read by every node from a store anyone with the cluster's credentials can
// write: each field is checked, and a record over the limits is refused whole.
#include <nlohmann/json.hpp>

#include "base/endpoint.h"
#include "base/ids.h"
#include "base/text.h"
#include "resources/records.h"

namespace cohort::resources {
namespace {

using nlohmann::json;

Error Bad(const std::string& what) {
  return Error(Errc::kInvalidArgument, "an inventory record: " + what);
}

template <typename T>
bool Number(const json& doc, const char* field, uint64_t max, T* out) {
  auto it = doc.find(field);
  if (it == doc.end()) return true;
  if (!it->is_number_unsigned() || it->get<uint64_t>() > max) return false;
  *out = static_cast<T>(it->get<uint64_t>());
  return true;
}

bool Text(const json& doc, const char* field, size_t max, std::string* out) {
  auto it = doc.find(field);
  if (it == doc.end()) return true;
  if (!it->is_string() || it->get<std::string>().size() > max) return false;
  *out = it->get<std::string>();
  return true;
}

bool ReadPresence(const json& doc, Presence* p) {
  auto it = doc.find("present");
  if (it != doc.end() && !it->is_boolean()) return false;
  p->present = it == doc.end() || it->get<bool>();
  if (!Number(doc, "missing_since_ms", uint64_t{1} << 52, &p->missing_since_ms)) return false;
  if (p->present) p->missing_since_ms = 0;
  return true;
}

json PresenceJson(json doc, const Presence& p) {
  doc["present"] = p.present;
  if (!p.present) doc["missing_since_ms"] = p.missing_since_ms;
  return doc;
}

// Each entry of `field` through `read`, keyed by what `read` names it; at most `max`.
template <typename Item, typename Read>
Status Items(const json& doc, const char* field, size_t max, Read read,
             std::map<std::string, Item>* out) {
  auto it = doc.find(field);
  if (it == doc.end()) return OkStatus();
  if (!it->is_array()) return Bad(std::string(field) + " must be a list");
  if (it->size() > max + kMaxMissingKept) return Bad(std::string(field) + ": too many entries");
  for (const json& e : *it) {
    Item item;
    if (!e.is_object() || !ReadPresence(e, &item.presence)) {
      return Bad(std::string(field) + ": an entry is not an object of the class's fields");
    }
    auto key = read(e, item);
    if (!key) return Bad(std::string(field) + ": " + key.error().message());
    if (!out->emplace(*key, std::move(item)).second) {
      return Bad(std::string(field) + ": " + *key + " is listed twice");
    }
  }
  return OkStatus();
}

Result<std::string> ReadAdapter(const json& e, AdapterItem& a) {
  if (!Text(e, "address", 64, &a.address) || !Endpoint::Parse(a.address)) {
    return Error(Errc::kInvalidArgument, "an adapter's address is not a.b.c.d:port");
  }
  if (!Number(e, "prefix_len", 32, &a.prefix_len) || !Text(e, "interface", 64, &a.interface)) {
    return Error(Errc::kInvalidArgument, "adapter " + a.address + " has a bad mask or interface");
  }
  return a.address;
}

Result<std::string> ReadDisk(const json& e, DiskItem& d) {
  if (!Text(e, "id", 64, &d.id) || !ValidDiskId(d.id)) {
    return Error(Errc::kInvalidArgument, "a disk's id is not a name");
  }
  if (!Text(e, "mount", 4096, &d.mount) || !Number(e, "total_bytes", UINT64_MAX, &d.total_bytes)) {
    return Error(Errc::kInvalidArgument, "disk " + d.id + " has a bad mount or size");
  }
  return d.id;
}

Result<std::string> ReadContent(const json& e, ContentItem& c) {
  if (!Text(e, "path", 1024, &c.path) || !ValidContentPath(c.path) || !IsValidUtf8(c.path)) {
    return Error(Errc::kInvalidArgument, "a content path is not a relative path");
  }
  if (!Number(e, "bytes", UINT64_MAX, &c.bytes)) {
    return Error(Errc::kInvalidArgument, "content " + c.path + " has a bad size");
  }
  return c.path;
}

}  // namespace

Result<Inventory> ParseInventory(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Bad("not a JSON object");
  Inventory inv;
  auto node = doc.find("node");
  if (node == doc.end() || !node->is_number_unsigned() || node->get<uint64_t>() == 0 ||
      node->get<uint64_t>() > 65535) {
    return Bad("node must be a node number (1-65535)");
  }
  inv.node = static_cast<NodeId>(node->get<uint64_t>());
  if (!Text(doc, "name", 255, &inv.name) ||
      !Number(doc, "capacity_mbps", kMaxMbps, &inv.capacity_mbps) ||
      !Number(doc, "discovered_ms", uint64_t{1} << 52, &inv.discovered_ms) ||
      !Number(doc, "joined_ms", uint64_t{1} << 52, &inv.joined_ms)) {
    return Bad("name, capacity_mbps, discovered_ms or joined_ms is not of its type");
  }
  if (auto t = doc.find("content_truncated"); t != doc.end()) {
    if (!t->is_boolean()) return Bad("content_truncated must be true or false");
    inv.content_truncated = t->get<bool>();
  }
  if (auto s = Items(doc, "adapters", kMaxInventoryAdapters, ReadAdapter, &inv.adapters); !s) {
    return s.error();
  }
  if (auto s = Items(doc, "disks", kMaxInventoryDisks, ReadDisk, &inv.disks); !s) {
    return s.error();
  }
  if (auto s = Items(doc, "content", kMaxInventoryContent, ReadContent, &inv.content); !s) {
    return s.error();
  }
  return inv;
}

std::string EncodeInventory(const Inventory& inv) {
  json adapters = json::array(), disks = json::array(), content = json::array();
  for (const auto& [key, a] : inv.adapters) {
    adapters.push_back(PresenceJson(
        {{"address", a.address}, {"prefix_len", a.prefix_len}, {"interface", a.interface}},
        a.presence));
  }
  for (const auto& [key, d] : inv.disks) {
    disks.push_back(PresenceJson({{"id", d.id}, {"mount", d.mount}, {"total_bytes", d.total_bytes}},
                                 d.presence));
  }
  for (const auto& [key, c] : inv.content) {
    content.push_back(PresenceJson({{"path", c.path}, {"bytes", c.bytes}}, c.presence));
  }
  return json({{"node", inv.node},
               {"name", inv.name},
               {"capacity_mbps", inv.capacity_mbps},
               {"discovered_ms", inv.discovered_ms},
               {"joined_ms", inv.joined_ms},
               {"adapters", adapters},
               {"disks", disks},
               {"content", content},
               {"content_truncated", inv.content_truncated}})
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace cohort::resources
