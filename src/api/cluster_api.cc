#include "api/cluster_api.h"

#include <nlohmann/json.hpp>

#include "api/responses.h"
#include "dcm/clusters.h"
#include "dcm/define_target.h"
#include "dcm/node_control.h"
#include "io/clock.h"

namespace cohort::api {
namespace {

using nlohmann::json;

// An optional field: absent gives `absent`; present but not an integer in [lo, hi] an error.
Result<int64_t> OptionalNumber(const json& body, const char* key, int64_t absent, int64_t lo,
                               int64_t hi) {
  if (!body.contains(key)) return absent;
  const json& v = body[key];
  if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi) {
    return Error(Errc::kInvalidArgument, std::string("'") + key + "' must be a number from " +
                                             std::to_string(lo) + " to " + std::to_string(hi));
  }
  return v.get<int64_t>();
}

Result<std::optional<Endpoint>> OptionalEndpoint(const json& body, const char* key) {
  if (!body.contains(key)) return std::optional<Endpoint>();
  auto e = Endpoint::Parse(StringField(body, key));
  if (!e) {
    return Error(Errc::kInvalidArgument,
                 std::string("'") + key + "' must be an address a.b.c.d:port");
  }
  return std::optional<Endpoint>(*e);
}

Result<dcm::ClusterSpec> SpecOf(const json& body) {
  dcm::ClusterSpec spec;
  spec.name = StringField(body, "name");
  auto number = OptionalNumber(body, "number", 1, 1, 65535);
  if (!number) return number.error();
  spec.number = static_cast<NodeId>(*number);
  auto client = OptionalEndpoint(body, "registry_client");
  if (!client) return client.error();
  auto peer = OptionalEndpoint(body, "registry_peer");
  if (!peer) return peer.error();
  spec.registry_client = *client;
  spec.registry_peer = *peer;
  return spec;
}

Result<dcm::ClusterChange> Change(dcm::LocalClusters& clusters, const HttpRequest& r,
                                  const std::string& path) {
  const std::string prefix = "/v1/clusters/";
  if (path == "/v1/clusters") {
    if (r.method != "POST") return Error(Errc::kInvalidArgument, r.method + " is not allowed");
    auto body = Body(r);
    if (!body) return body.error();
    auto spec = SpecOf(*body);
    if (!spec) return spec.error();
    return clusters.Define(*spec);
  }
  const std::string rest = path.substr(prefix.size());
  const size_t slash = rest.find('/');
  const std::string name = rest.substr(0, slash);
  const std::string verb = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (r.method == "DELETE" && verb.empty()) return clusters.Undefine(name);
  if (r.method != "POST") return Error(Errc::kInvalidArgument, r.method + " is not allowed");
  if (verb == "online") return clusters.Online(name);
  if (verb == "offline") return clusters.Offline(name);
  if (verb == "move") {
    auto body = r.body.empty() ? Result<json>(json::object()) : Body(r);
    if (!body) return body.error();
    auto deadline = OptionalNumber(*body, "deadline_ms", dcm::kDefaultMoveDeadlineMs, 100, 600'000);
    if (!deadline) return deadline.error();
    return clusters.Move(name, *deadline);
  }
  return Error(Errc::kNotFound, "no such endpoint: " + path);
}

}  // namespace

bool HandleClusterChange(dcm::LocalClusters clusters, dcm::DefineTarget& target,
                         const HttpRequest& r, const std::string& path, const Respond& respond,
                         const std::function<void()>& restart) {
  if (r.method == "POST" && path == "/v1/join-token") {
    auto made = target.NewToken();
    if (!made) return respond(FromError(made.error())), true;
    respond(Json(200, json{{"token", *made}, {"uid", target.uid()}}));
    return true;
  }
  if (path != "/v1/clusters" && path.rfind("/v1/clusters/", 0) != 0) return false;
  clusters.set_requester("API client " + r.peer);
  auto change = Change(clusters, r, path);
  if (!change) return respond(FromError(change.error())), true;
  respond(Json(200, json{{"message", change->message},
                         {"restart", change->restart},
                         {"cluster_id", change->cluster_id}}));
  if (change->restart) restart();
  return true;
}

void AnswerDefine(dcm::DefineTarget& target, const HttpRequest& r, const Respond& respond,
                  const std::function<void()>& committed) {
  auto key = target.TokenKey();
  if (!key) return respond(FromError(key.error()));
  auto m = dcm::OpenDefine(*key, r.body);
  if (!m) return respond(FromError(m.error()));
  const dcm::DefineAnswer a = target.Answer(*m, "a member at " + r.peer);
  respond({200, "application/octet-stream", dcm::SealAnswer(*key, a)});
  if (m->op == dcm::DefineOp::kCommit && a.ok) committed();
}

void AnswerControlRequest(const Config& file, dcm::LocalClusters clusters, const HttpRequest& r,
                          const Respond& respond, const std::function<void()>& restart) {
  clusters.set_requester("a member at " + r.peer);
  auto reply = dcm::AnswerControl(file, clusters, r.body, io::WallMillis());
  if (!reply) return respond(FromError(reply.error()));
  respond({200, "application/octet-stream", reply->sealed});
  if (reply->restart) restart();
}

}  // namespace cohort::api
