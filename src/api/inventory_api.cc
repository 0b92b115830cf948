#include "api/inventory_api.h"

#include <nlohmann/json.hpp>

#include "api/registry_api.h"
#include "api/responses.h"
#include "base/text.h"
#include "node/node.h"
#include "node/resource_service.h"

namespace cohort::api {
namespace {

using nlohmann::json;
using resources::BuiltinClass;

json Classes() {
  json list = json::array();
  for (const resources::ClassDescription& c : resources::ClassDescriptions()) {
    json attributes = json::array();
    for (const auto& a : c.attributes) {
      attributes.push_back({{"name", a.name}, {"type", a.type}, {"description", a.description}});
    }
    list.push_back({{"name", c.name},
                    {"description", c.description},
                    {"builtin", c.builtin},
                    {"attributes", attributes},
                    {"actions", c.actions}});
  }
  return {{"classes", list}};
}

json Entry(BuiltinClass cls, const std::string& name, NodeId node, const std::string& state,
           const resources::Presence& presence, json attributes) {
  json e = {{"class", resources::BuiltinClassName(cls)},
            {"name", name},
            {"node", node},
            {"state", presence.present ? state : "missing"},
            {"attributes", std::move(attributes)}};
  if (!presence.present) e["missing_since_ms"] = presence.missing_since_ms;
  return e;
}

std::string DiskState(const membership::ClusterMap& map, const std::string& disk, NodeId node) {
  auto d = map.disks.find(disk);
  if (d == map.disks.end()) return "unknown";
  if (d->second.failed) return "failed";
  auto p = d->second.paths.find(node);
  if (p == d->second.paths.end()) return "unknown";
  return p->second.state == membership::PathState::kOk ? "ok" : "failed";
}

// One node's resources of the class asked (all if none), each with its live state.
void AddNode(const node::Node& self, const resources::Inventory& inv,
             std::optional<BuiltinClass> only, json& out) {
  auto want = [&](BuiltinClass c) { return !only || *only == c; };
  const membership::ClusterMap& map = self.membership().map();
  if (want(BuiltinClass::kNode)) {
    const membership::Member* m = map.Find(inv.node);
    out.push_back(Entry(BuiltinClass::kNode, std::to_string(inv.node), inv.node,
                        m != nullptr ? membership::MemberStateName(m->state) : "unknown", {},
                        {{"id", inv.node},
                         {"name", EscapeInvalidUtf8(inv.name)},
                         {"capacity_mbps", inv.capacity_mbps}}));
  }
  if (want(BuiltinClass::kAdapter)) {
    for (const auto& [key, a] : inv.adapters) {
      auto ep = Endpoint::Parse(a.address);
      const std::string state =
          ep ? liveness::AdapterStateName(self.liveness().AdapterStateOf(*ep)) : "unknown";
      out.push_back(Entry(
          BuiltinClass::kAdapter, a.address, inv.node, state, a.presence,
          {{"address", a.address}, {"prefix_len", a.prefix_len}, {"interface", a.interface}}));
    }
  }
  if (want(BuiltinClass::kDisk)) {
    for (const auto& [key, d] : inv.disks) {
      out.push_back(Entry(BuiltinClass::kDisk, d.id, inv.node, DiskState(map, d.id, inv.node),
                          d.presence,
                          {{"id", d.id}, {"mount", d.mount}, {"total_bytes", d.total_bytes}}));
    }
  }
  if (want(BuiltinClass::kContent)) {
    for (const auto& [key, c] : inv.content) {
      out.push_back(Entry(BuiltinClass::kContent, c.path, inv.node, "present", c.presence,
                          {{"path", c.path}, {"bytes", c.bytes}}));
    }
  }
}

void List(const node::ResourceService& service, const node::Node& self, const HttpRequest& r,
          const Respond& respond) {
  std::optional<BuiltinClass> only;
  if (const std::string c = QueryParam(r.target, "class"); !c.empty()) {
    only = resources::ParseBuiltinClass(c);
    if (!only) return respond(Fail(400, "class must be node, adapter, disk or content"));
  }
  NodeId node_filter = kNoNode;
  if (const std::string n = QueryParam(r.target, "node"); !n.empty()) {
    auto v = ParseUnsigned(n);
    if (!v || *v == 0 || *v > 65535) return respond(Fail(400, "node must be a node number"));
    node_filter = static_cast<NodeId>(*v);
  }
  json list = json::array(), nodes = json::object();
  for (const auto& [id, inv] : service.Inventories()) {
    if (node_filter != kNoNode && id != node_filter) continue;
    AddNode(self, inv, only, list);
    nodes[std::to_string(id)] = {{"discovered_ms", inv.discovered_ms},
                                 {"joined_ms", inv.joined_ms},
                                 {"content_truncated", inv.content_truncated}};
  }
  respond(Json(200, {{"synced", service.synced()}, {"nodes", nodes}, {"resources", list}}));
}

}  // namespace

bool HandleInventory(node::ResourceService* service, const node::Node& node, const HttpRequest& r,
                     const std::string& path, const Respond& respond) {
  if (path != "/v1/resource-classes" && path != "/v1/inventory" &&
      path.rfind("/v1/inventory/", 0) != 0) {
    return false;
  }
  if (r.method == "GET" && path == "/v1/resource-classes") {
    respond(Json(200, Classes()));
    return true;
  }
  if (service == nullptr) {
    respond(Fail(503, "this node runs without the registry: no resource manager"));
    return true;
  }
  if (r.method == "GET" && path == "/v1/inventory") {
    List(*service, node, r, respond);
  } else if (r.method == "POST" && path == "/v1/inventory/rescan") {
    service->Rescan();
    respond(Json(200, {{"rescan", node.config().node_id}}));
  } else {
    respond(Fail(path == "/v1/inventory/rescan" || path == "/v1/inventory" ? 405 : 404,
                 "no such inventory operation: " + r.method + " " + path));
  }
  return true;
}

}  // namespace cohort::api
