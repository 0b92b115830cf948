#include "api/config_api.h"

#include <nlohmann/json.hpp>

#include "api/responses.h"
#include "dcm/dcm.h"
#include "node/node.h"

namespace cohort::api {
namespace {

using nlohmann::json;

}  // namespace

json ClustersDocument(const dcm::LocalConfiguration& local, const std::string& uid,
                      const std::string& identity) {
  json clusters = json::array();
  for (const auto& c : local.clusters) {
    const bool current = c.id == local.current;
    const bool target = c.id == local.target;
    // Online: the cluster this node runs in; moving: the one it is moving to (C10).
    const char* state = current && !local.offline ? "online"
                        : target && !current      ? "moving"
                                                  : "offline";
    clusters.push_back({{"id", c.id},
                        {"name", c.name},
                        {"node", c.node == kNoNode ? json(nullptr) : json(c.node)},
                        {"uid", c.uid},
                        {"state", state},
                        {"current", current},
                        {"target", target}});
  }
  return {{"clusters", clusters},
          {"current", local.current},
          {"target", local.target},
          {"offline", local.offline},
          {"uid", uid},
          {"identity", identity}};
}

std::function<void(Result<std::string>)> AuditedReply(dcm::Dcm& dcm, const HttpRequest& r,
                                                      Respond respond) {
  return [dcm = &dcm, op = r.method + " " + r.target.substr(0, r.target.find('?')),
          by = "API client " + r.peer,
          reply = MessageReply(std::move(respond))](Result<std::string> message) {
    dcm->Audit("request",
               {{"op", op}, {"by", by}, {"outcome", message ? "ok" : message.error().message()}});
    reply(std::move(message));
  };
}

namespace {

void ListNodes(dcm::Dcm& dcm, const node::Node& node, const Respond& respond) {
  dcm.ListNodes([&node, respond](Result<std::vector<dcm::DefinedNode>> nodes) {
    if (!nodes) return respond(FromError(nodes.error()));
    const auto& map = node.membership().map();
    json list = json::array();
    for (const auto& n : *nodes) {
      const auto* member = map.Find(n.number);
      list.push_back({{"id", n.number},
                      {"name", n.name},
                      {"uid", n.uid},
                      {"registry_server", n.registry_server},
                      {"state", member ? membership::MemberStateName(member->state) : "offline"},
                      {"pending", n.pending_until_ms != 0},
                      {"self", n.number == node.config().node_id}});
    }
    respond(Json(200, json{{"cluster", node.config().cluster_name}, {"nodes", list}}));
  });
}

}  // namespace

bool HandleConfiguration(dcm::Dcm* dcm, const node::Node& node, const HttpRequest& r,
                         const std::string& path, const Respond& respond) {
  const bool nodes = path == "/v1/nodes" || path.rfind("/v1/nodes/", 0) == 0;
  if (path != "/v1/clusters" && !nodes) return false;
  if (dcm == nullptr || !dcm->has_registry()) {
    respond(Fail(503, "this node runs without the registry: its cluster is its config file's"));
    return true;
  }
  if (r.method == "GET" && path == "/v1/clusters")
    return respond(Json(200, ClustersDocument(dcm->local(), dcm->uid(), dcm->identity_state()))),
           true;
  if (r.method == "GET" && path == "/v1/nodes") return ListNodes(*dcm, node, respond), true;
  if (r.method == "POST" && path == "/v1/nodes") {
    auto body = Body(r);
    if (!body) return respond(FromError(body.error())), true;
    auto target = Endpoint::Parse(StringField(*body, "address"));
    if (!target) {
      respond(Fail(400, "'address' must be the API address a.b.c.d:port of the node to define"));
      return true;
    }
    std::optional<NodeId> number;
    if (body->contains("number")) {
      const json& n = (*body)["number"];
      if (!n.is_number_unsigned() || n.get<uint64_t>() == 0 || n.get<uint64_t>() > 65535) {
        respond(Fail(400, "'number' must be a node number from 1 to 65535"));
        return true;
      }
      number = n.get<NodeId>();
    }
    dcm->DefineNode(*target, StringField(*body, "join_token"), number, StringField(*body, "name"),
                    AuditedReply(*dcm, r, respond));
    return true;
  }
  if (path.rfind("/v1/nodes/", 0) == 0 && (r.method == "DELETE" || r.method == "POST")) {
    const std::string rest = path.substr(std::string("/v1/nodes/").size());
    const std::string text = rest.substr(0, rest.find('/'));
    const std::string verb = rest.size() > text.size() ? rest.substr(text.size() + 1) : "";
    const auto id = NodeNumber(text);
    if (!id) return respond(Fail(400, "'" + text + "' is not a node number (1 to 65535)")), true;
    if (r.method == "DELETE" && verb.empty())
      return dcm->UndefineNode(*id, AuditedReply(*dcm, r, respond)), true;
    if (r.method == "POST" && (verb == "online" || verb == "offline")) {
      return dcm->SetNodeOnline(*id, verb == "online", AuditedReply(*dcm, r, respond)), true;
    }
    if (r.method == "POST" && verb == "modify") {
      auto body = Body(r);
      if (!body) return respond(FromError(body.error())), true;
      return dcm->ModifyNode(*id, StringField(*body, "name"), AuditedReply(*dcm, r, respond)), true;
    }
  }
  respond(Fail(405, r.method + " is not allowed on " + path));
  return true;
}

}  // namespace cohort::api
