#include "api/network_api.h"

#include <nlohmann/json.hpp>

#include "api/config_api.h"
#include "api/responses.h"
#include "dcm/dcm.h"

namespace cohort::api {
namespace {

using nlohmann::json;
using Edit = dcm::schema::NetworkEdit;

json NetworksDocument(const dcm::schema::StoredNetworks& stored, const node::Node& node) {
  const dcm::NetworkMap& map = stored.map;
  json subnets = json::array();
  for (const dcm::SubnetDefinition& s : map.subnets()) {
    json addresses = json::array();
    for (const auto& [id, entry] : node.transport().table().entries()) {
      for (const auto& a : entry.addresses) {
        if (map.SubnetOf(a.address.ip) == &s) {
          addresses.push_back({{"node", id}, {"address", a.address.ToString()}});
        }
      }
    }
    subnets.push_back({{"uid", s.uid},
                       {"prefix", s.subnet.ToString()},
                       {"network", s.network.empty() ? json(nullptr) : json(s.network)},
                       {"implicit", s.implicit},
                       {"addresses", addresses}});
  }
  json networks = json::array();
  for (const dcm::NetworkDefinition& n : map.networks()) {
    json priority = json::object();
    for (dcm::Service service : dcm::kServices) {
      auto it = n.priority.find(service);
      priority[dcm::ServiceName(service)] = it == n.priority.end() ? 0 : it->second;
    }
    json mapped = json::array();
    for (const auto& s : map.subnets()) {
      if (s.network == n.name) mapped.push_back(s.subnet.ToString());
    }
    networks.push_back(
        {{"uid", n.uid}, {"name", n.name}, {"priority", priority}, {"subnets", mapped}});
  }
  json services = json::array();
  for (dcm::Service s : dcm::kServices) services.push_back(dcm::ServiceName(s));
  return {{"networks", networks},
          {"subnets", subnets},
          {"services", services},
          {"damaged", stored.damaged}};
}

// "priority": {"<service>": n, ...}: every service known, every value a whole number.
Result<std::map<dcm::Service, int>> Priorities(const json& body) {
  std::map<dcm::Service, int> out;
  if (!body.contains("priority")) return out;
  if (!body["priority"].is_object()) {
    return Error(Errc::kInvalidArgument, "'priority' must be an object: {\"<service>\": n}");
  }
  for (const auto& [name, value] : body["priority"].items()) {
    auto service = dcm::ParseService(name);
    if (!service) return service.error();
    if (!value.is_number_integer()) {
      return Error(Errc::kInvalidArgument, "the priority of " + name + " must be a whole number");
    }
    const int64_t p = value.get<int64_t>();
    if (p < 0 || p > dcm::kMaxPriority) {
      return Error(Errc::kInvalidArgument, "the priority of " + name + " must be from 0 to " +
                                               std::to_string(dcm::kMaxPriority));
    }
    out[*service] = static_cast<int>(p);
  }
  return out;
}

// The edit a POST asks for; every field's type checked here, its meaning in PlanEdit.
Result<Edit> ParseEdit(const std::string& path, const json& body) {
  Edit e;
  const bool network = path.rfind("/v1/networks", 0) == 0;
  const std::string verb = path.substr(network ? 12 : 11);
  if (verb != "" && verb != "/modify" && verb != "/undefine") {
    return Error(Errc::kNotFound, "no such endpoint: " + path);
  }
  if (network) {
    e.kind = verb.empty()        ? Edit::Kind::kDefineNetwork
             : verb == "/modify" ? Edit::Kind::kModifyNetwork
                                 : Edit::Kind::kUndefineNetwork;
    e.name = StringField(body, "name");
    e.new_name = StringField(body, "new_name");
    auto priority = Priorities(body);
    if (!priority) return priority.error();
    e.priority = std::move(*priority);
    return e;
  }
  e.kind = verb.empty()        ? Edit::Kind::kDefineSubnet
           : verb == "/modify" ? Edit::Kind::kModifySubnet
                               : Edit::Kind::kUndefineSubnet;
  auto subnet = Subnet::Parse(StringField(body, "prefix"));
  if (!subnet) {
    return Error(Errc::kInvalidArgument,
                 "'prefix' must be a subnet like 10.1.0.0/16: " + subnet.error().message());
  }
  e.subnet = *subnet;
  if (body.contains("network")) {
    if (!body["network"].is_string() && !body["network"].is_null()) {
      return Error(Errc::kInvalidArgument, "'network' must be a network's name (\"\" unmaps)");
    }
    e.network = body["network"].is_null() ? "" : body["network"].get<std::string>();
  } else if (e.kind == Edit::Kind::kModifySubnet) {
    return Error(Errc::kInvalidArgument, "'network' is required (\"\" unmaps the subnet)");
  }
  return e;
}

}  // namespace

bool HandleNetworks(dcm::Dcm* dcm, node::Node& node, const HttpRequest& r, const std::string& path,
                    const Respond& respond) {
  const bool ours = path == "/v1/networks" || path.rfind("/v1/networks/", 0) == 0 ||
                    path == "/v1/subnets" || path.rfind("/v1/subnets/", 0) == 0;
  if (!ours) return false;
  if (dcm == nullptr || !dcm->has_registry()) {
    return respond(Fail(503, "this node runs without the registry: no network objects")), true;
  }
  if (r.method == "GET" && (path == "/v1/networks" || path == "/v1/subnets")) {
    node::Node* n = &node;
    dcm->ReadNetworks([respond, n](Result<dcm::schema::StoredNetworks> stored) {
      if (!stored) return respond(FromError(stored.error()));
      respond(Json(200, NetworksDocument(*stored, *n)));
    });
    return true;
  }
  if (r.method != "POST") return respond(Fail(405, r.method + " is not allowed on " + path)), true;
  auto body = Body(r);
  if (!body) return respond(FromError(body.error())), true;
  auto edit = ParseEdit(path, *body);
  if (!edit) return respond(FromError(edit.error())), true;
  dcm->EditNetworks(std::move(*edit), AuditedReply(*dcm, r, respond));
  return true;
}

}  // namespace cohort::api
