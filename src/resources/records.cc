#include "resources/records.h"

#include <nlohmann/json.hpp>

#include "base/text.h"

namespace cohort::resources {
namespace {

using nlohmann::json;

Error Bad(const std::string& what) { return Error(Errc::kInvalidArgument, what); }

Result<json> Object(const std::string& text, const char* what) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Bad(std::string(what) + " is not a JSON object");
  }
  return doc;
}

Result<NodeId> NodeField(const json& v, const std::string& field) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || v.get<uint64_t>() > 65535) {
    return Bad(field + " must be a node number (1-65535)");
  }
  return static_cast<NodeId>(v.get<uint64_t>());
}

Result<std::vector<std::string>> Names(const json& v, const std::string& field) {
  if (!v.is_array()) return Bad(field + " must be a list of names");
  std::vector<std::string> out;
  for (const json& e : v) {
    if (!e.is_string()) return Bad(field + " must be a list of names");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<Duration> Millis(const json& v, const std::string& field) {
  if (!v.is_number_unsigned()) return Bad(field + " must be a whole number of milliseconds");
  return Duration::Millis(static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), 1ull << 40)));
}

Status ParsePlacement(const json& doc, ResourceSpec& s) {
  if (auto it = doc.find("allowed"); it != doc.end()) {
    if (!it->is_array()) return Bad("allowed must be a list of node numbers");
    for (const json& e : *it) {
      auto n = NodeField(e, "allowed");
      if (!n) return n.error();
      s.allowed.push_back(*n);
    }
  }
  if (auto it = doc.find("prefer"); it != doc.end()) {
    if (!it->is_object()) return Bad("prefer must map node numbers to scores");
    for (const auto& [k, v] : it->items()) {
      auto n = ParseUnsigned(k);
      if (!n || *n == 0 || *n > 65535 || !v.is_number_integer()) {
        return Bad("prefer must map node numbers to whole scores");
      }
      const int64_t score = v.get<int64_t>();
      if (score < -kMaxScore || score > kMaxScore) return Bad("prefer scores are within ±1000000");
      s.prefer[static_cast<NodeId>(*n)] = static_cast<int32_t>(score);
    }
  }
  for (auto [field, list] : {std::pair{"disks", &s.disks},
                             {"with", &s.with},
                             {"after", &s.after},
                             {"content", &s.content}}) {
    if (auto it = doc.find(field); it != doc.end()) {
      auto names = Names(*it, field);
      if (!names) return names.error();
      *list = std::move(*names);
    }
  }
  if (auto it = doc.find("needs_mbps"); it != doc.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > kMaxMbps) {
      return Bad("needs_mbps must be a whole number of Mbit/s (at most 100000000)");
    }
    s.needs_mbps = static_cast<uint32_t>(it->get<uint64_t>());
  }
  if (auto it = doc.find("promotable"); it != doc.end()) {
    if (!it->is_boolean()) return Bad("promotable must be true or false");
    s.promotable = it->get<bool>();
  }
  if (auto it = doc.find("moved_to"); it != doc.end() && !it->is_null()) {
    auto n = NodeField(*it, "moved_to");
    if (!n) return n.error();
    s.moved_to = *n;
  }
  return OkStatus();
}

Status ParseOperations(const json& doc, ResourceSpec& s) {
  if (auto it = doc.find("monitor_interval_ms"); it != doc.end()) {
    auto d = Millis(*it, "monitor_interval_ms");
    if (!d) return d.error();
    s.monitor_interval = *d;
  }
  if (auto it = doc.find("timeouts_ms"); it != doc.end()) {
    if (!it->is_object()) return Bad("timeouts_ms must be an object of start, stop, monitor");
    for (const auto& [k, v] : it->items()) {
      auto d = Millis(v, "timeouts_ms." + k);
      if (!d) return d.error();
      if (k == "start") {
        s.timeouts.start = *d;
      } else if (k == "stop") {
        s.timeouts.stop = *d;
      } else if (k == "monitor") {
        s.timeouts.monitor = *d;
      } else {
        return Bad("timeouts_ms has start, stop and monitor, not " + k);
      }
    }
  }
  if (auto it = doc.find("migration_threshold"); it != doc.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 1000000) {
      return Bad("migration_threshold must be a whole number (0: never move)");
    }
    s.migration_threshold = static_cast<uint32_t>(it->get<uint64_t>());
  }
  if (auto it = doc.find("cleared"); it != doc.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 0x7fffffff) {
      return Bad("cleared must be a whole number");
    }
    s.cleared = static_cast<uint32_t>(it->get<uint64_t>());
  }
  return OkStatus();
}

const char* const kSpecFields[] = {"name",        "class",
                                   "agent",       "params",
                                   "target",      "allowed",
                                   "prefer",      "disks",
                                   "with",        "after",
                                   "moved_to",    "monitor_interval_ms",
                                   "timeouts_ms", "migration_threshold",
                                   "cleared",     "content",
                                   "needs_mbps",  "promotable"};

Status KnownFields(const json& doc) {
  for (const auto& [k, v] : doc.items()) {
    bool known = false;
    for (const char* f : kSpecFields) known = known || k == f;
    if (!known) return Bad("unknown field \"" + k + "\" in a resource definition");
  }
  return OkStatus();
}

}  // namespace

Result<ResourceSpec> ParseSpec(const std::string& text) {
  auto doc = Object(text, "a resource definition");
  if (!doc) return doc.error();
  if (auto k = KnownFields(*doc); !k) return k.error();
  ResourceSpec s;
  const json& d = *doc;
  if (!d.contains("name") || !d["name"].is_string()) return Bad("a resource needs a name");
  s.name = d["name"].get<std::string>();
  if (!d.contains("class") || !d["class"].is_string() ||
      !ParseClass(d["class"].get<std::string>())) {
    return Bad("resource " + s.name + ": class must be \"ocf\" or \"process\"");
  }
  s.cls = *ParseClass(d["class"].get<std::string>());
  if (!d.contains("agent") || !d["agent"].is_string()) {
    return Bad("resource " + s.name + ": agent must be a string");
  }
  s.agent = d["agent"].get<std::string>();
  if (auto it = d.find("params"); it != d.end()) {
    if (!it->is_object()) return Bad("resource " + s.name + ": params must be an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string())
        return Bad("resource " + s.name + ": parameter " + k + " is not a string");
      s.params[k] = v.get<std::string>();
    }
  }
  if (auto it = d.find("target"); it != d.end()) {
    if (*it != "started" && *it != "stopped") {
      return Bad("resource " + s.name + ": target must be \"started\" or \"stopped\"");
    }
    s.target = *it == "started" ? TargetRole::kStarted : TargetRole::kStopped;
  }
  if (auto r = ParsePlacement(d, s); !r)
    return Bad("resource " + s.name + ": " + r.error().message());
  if (auto r = ParseOperations(d, s); !r)
    return Bad("resource " + s.name + ": " + r.error().message());
  if (auto v = Validate(s); !v) return v.error();
  return s;
}

std::string EncodeSpec(const ResourceSpec& s) {
  json prefer = json::object();
  for (const auto& [n, score] : s.prefer) prefer[std::to_string(n)] = score;
  json doc = {{"name", s.name},
              {"class", ClassName(s.cls)},
              {"agent", s.agent},
              {"params", s.params},
              {"target", s.target == TargetRole::kStarted ? "started" : "stopped"},
              {"allowed", s.allowed},
              {"prefer", prefer},
              {"disks", s.disks},
              {"with", s.with},
              {"after", s.after},
              {"monitor_interval_ms", s.monitor_interval.nanos() / 1'000'000},
              {"timeouts_ms",
               {{"start", s.timeouts.start.nanos() / 1'000'000},
                {"stop", s.timeouts.stop.nanos() / 1'000'000},
                {"monitor", s.timeouts.monitor.nanos() / 1'000'000}}},
              {"migration_threshold", s.migration_threshold},
              {"cleared", s.cleared}};
  doc["moved_to"] = s.moved_to == kNoNode ? json(nullptr) : json(s.moved_to);
  // Written only when used, so that daemons that do not know them read the rest.
  if (!s.content.empty()) doc["content"] = s.content;
  if (s.needs_mbps != 0) doc["needs_mbps"] = s.needs_mbps;
  if (s.promotable) doc["promotable"] = true;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<PlacedRecord> ParsePlaced(const std::string& text) {
  auto doc = Object(text, "a placement record");
  if (!doc) return doc.error();
  PlacedRecord r;
  if (auto it = doc->find("node"); it != doc->end() && !it->is_null()) {
    auto n = NodeField(*it, "node");
    if (!n) return n.error();
    r.node = *n;
  }
  if (auto it = doc->find("reason"); it != doc->end() && it->is_string()) {
    r.reason = it->get<std::string>();
  }
  return r;
}

std::string EncodePlaced(const PlacedRecord& r) {
  json doc = {{"reason", r.reason}};
  doc["node"] = r.node == kNoNode ? json(nullptr) : json(r.node);
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<NodeId> ParseOwner(const std::string& text) {
  auto doc = Object(text, "an owner record");
  if (!doc) return doc.error();
  if (!doc->contains("node")) return Bad("an owner record names its node");
  return NodeField((*doc)["node"], "node");
}

std::string EncodeOwner(NodeId node) { return json({{"node", node}}).dump(); }

Result<AliveRecord> ParseAlive(const std::string& text) {
  auto doc = Object(text, "an alive record");
  if (!doc) return doc.error();
  if (!doc->contains("node")) return Bad("an alive record names its node");
  AliveRecord r;
  auto n = NodeField((*doc)["node"], "node");
  if (!n) return n.error();
  r.node = *n;
  if (auto it = doc->find("taken_by"); it != doc->end() && !it->is_null()) {
    auto by = NodeField(*it, "taken_by");
    if (!by) return by.error();
    r.taken_by = *by;
  }
  if (auto it = doc->find("ttl_ms"); it != doc->end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > 600'000) {
      return Bad("an alive record's ttl_ms is a whole number of milliseconds up to 600000");
    }
    r.ttl_ms = static_cast<uint32_t>(it->get<uint64_t>());
  }
  return r;
}

std::string EncodeAlive(const AliveRecord& r) {
  json doc = {{"node", r.node}};
  if (r.taken_by != kNoNode) doc["taken_by"] = r.taken_by;
  if (r.ttl_ms != 0) doc["ttl_ms"] = r.ttl_ms;
  return doc.dump();
}

Result<StatusRecord> ParseStatus(const std::string& text) {
  auto doc = Object(text, "a status record");
  if (!doc) return doc.error();
  StatusRecord r;
  if (!doc->contains("node")) return Bad("a status record names its node");
  auto n = NodeField((*doc)["node"], "node");
  if (!n) return n.error();
  r.node = *n;
  const json& d = *doc;
  if (!d.contains("state") || !d["state"].is_string()) return Bad("a status record has a state");
  r.state = d["state"].get<std::string>();
  if (auto it = d.find("error"); it != d.end() && it->is_string()) r.error = it->get<std::string>();
  if (auto it = d.find("at_ms"); it != d.end() && it->is_number_integer())
    r.at_ms = it->get<int64_t>();
  if (auto it = d.find("role"); it != d.end() && it->is_string() && *it == "promoted") {
    r.role = "promoted";
  }
  return r;
}

std::string EncodeStatus(const StatusRecord& r) {
  // The error is an agent's own words: bytes that are not UTF-8 are replaced, not thrown on.
  json doc = {{"node", r.node}, {"state", r.state}, {"error", r.error}, {"at_ms", r.at_ms}};
  if (!r.role.empty()) doc["role"] = r.role;
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

// A node number in its one spelling ("3", never "03"): one node, one key.
std::optional<NodeId> KeyNode(const std::string& digits) {
  auto node = ParseUnsigned(digits);
  if (!node || *node == 0 || *node > 65535 || std::to_string(*node) != digits) {
    return std::nullopt;
  }
  return static_cast<NodeId>(*node);
}

}  // namespace

std::optional<RecordKey> ParseKey(const std::string& relative) {
  const size_t slash = relative.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string kind = relative.substr(0, slash);
  std::string rest = relative.substr(slash + 1);
  RecordKey k;
  if (kind == "inventory" || kind == "alive") {
    auto node = KeyNode(rest);
    if (!node) return std::nullopt;
    k.kind = kind == "alive" ? RecordKey::Kind::kAlive : RecordKey::Kind::kInventory;
    k.node = *node;
    return k;
  }
  if (kind == "fails" || kind == "status") {
    const size_t s2 = rest.find('/');
    if (s2 == std::string::npos) return std::nullopt;
    auto node = KeyNode(rest.substr(s2 + 1));
    if (!node) return std::nullopt;
    k.node = *node;
    rest = rest.substr(0, s2);
    k.kind = kind == "fails" ? RecordKey::Kind::kFails : RecordKey::Kind::kStatus;
  } else if (kind == "defs") {
    k.kind = RecordKey::Kind::kDef;
  } else if (kind == "placed") {
    k.kind = RecordKey::Kind::kPlaced;
  } else if (kind == "owner") {
    k.kind = RecordKey::Kind::kOwner;
  } else {
    return std::nullopt;
  }
  if (!ValidName(rest)) return std::nullopt;
  k.name = rest;
  return k;
}

std::string KeyOf(const RecordKey& k) {
  switch (k.kind) {
    case RecordKey::Kind::kDef:
      return "defs/" + k.name;
    case RecordKey::Kind::kPlaced:
      return "placed/" + k.name;
    case RecordKey::Kind::kOwner:
      return "owner/" + k.name;
    case RecordKey::Kind::kStatus:
      return "status/" + k.name + "/" + std::to_string(k.node);
    case RecordKey::Kind::kFails:
      return "fails/" + k.name + "/" + std::to_string(k.node);
    case RecordKey::Kind::kInventory:
      return "inventory/" + std::to_string(k.node);
    case RecordKey::Kind::kAlive:
      return "alive/" + std::to_string(k.node);
  }
  return "";
}

}  // namespace cohort::resources
