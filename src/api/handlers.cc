#include "api/handlers.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "api/cluster_api.h"
#include "api/config_api.h"
#include "api/dashboard.h"
#include "api/dashboard_feed.h"
#include "api/groups_api.h"
#include "api/health_api.h"
#include "api/inventory_api.h"
#include "api/jobs_api.h"
#include "api/liveness_api.h"
#include "api/metrics_text.h"
#include "api/network_api.h"
#include "api/node_metrics.h"
#include "api/parent_api.h"
#include "api/registry_api.h"
#include "api/resources_api.h"
#include "api/responses.h"
#include "api/streams_api.h"
#include "base/digest.h"
#include "dcm/dcm.h"
#include "dcm/define_target.h"
#include "io/loop_monitor.h"
#include "membership/messages.h"
#include "node/distributor.h"
#include "node/documents.h"
#include "node/hierarchy_service.h"

namespace cohort::api {
namespace {

using nlohmann::json;

Result<wire::KeyId> ParseKeyId(const std::string& text) {
  if (text.size() != 8 || text.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Error(Errc::kInvalidArgument, "'" + text + "' is not a key id (8 hex digits)");
  }
  return static_cast<wire::KeyId>(std::stoul(text, nullptr, 16));
}

}  // namespace

HttpResponse Api::Status() const {
  const Config& c = node_.config();
  const auto& t = node_.transport();
  const auto& m = node_.membership();
  const membership::Role role = m.role();
  const bool in_cluster =
      role == membership::Role::kMember || role == membership::Role::kSupervisor;
  json doc{
      {"node", {{"id", c.node_id}, {"name", c.node_name}}},
      {"cluster", c.cluster_name},
      {"role", role == membership::Role::kSupervisor ? "supervisor" : "member"},
      {"membership_state", membership::RoleName(role)},
      {"supervisor", m.supervisor() == kNoNode ? json(nullptr) : json(m.supervisor())},
      {"map_version", m.map().version},
      {"components",
       {{"transport", "ready"}, {"membership", in_cluster ? "ready" : membership::RoleName(role)}}},
      {"cluster_id", dcm_ != nullptr ? json(dcm_->cluster_id()) : json(nullptr)},
      {"incarnation", t.options().incarnation},
      {"uptime_s", (node_.Now() - node_.started()).seconds()},
      {"data_dir", c.data_dir},
      {"bus", c.multicast ? json{{"mode", "multicast"}, {"group", c.multicast->ToString()}}
                          : json{{"mode", "unicast"}}},
      {"address_table",
       {{"version", t.table().version()},
        {"digest", HexDigest(t.table().digest())},
        {"nodes", t.table().size()}}},
  };
  if (dcm_ != nullptr) {
    for (const auto& [name, state] : dcm_->components()) doc["components"][name] = state;
  }
  return Json(200, doc);
}

HttpResponse Api::Addresses() const { return Json(200, node::AddressesDocument(node_)); }

HttpResponse Api::Members() const { return Json(200, node::MembersDocument(node_)); }

HttpResponse Api::Metrics() const {
  MetricsText t;
  TransportMetrics(node_, t);
  MembershipMetrics(node_, t);
  LivenessMetrics(node_, t);
  DiskMetrics(node_, t);
  if (distributor_ != nullptr) DistributionMetrics(*distributor_, t);
  if (dcm_ != nullptr && dcm_->has_registry()) RegistryMetrics(*dcm_, t);
  std::string s = t.Take();
  if (groups_ != nullptr) s += GroupsMetrics(*groups_);
  if (resources_ != nullptr) s += ResourcesMetrics(*resources_);
  if (workload_ != nullptr) s += StreamsMetrics(*workload_, media_);
  if (loop_ != nullptr) s += loop_->Metrics();
  if (health_ != nullptr) s += HealthMetrics(health_->last());
  return {200, "text/plain; version=0.0.4", std::move(s)};
}

json Api::KeysDocument() const {
  const auto& ring = node_.transport().keyring();
  json keys = json::array();
  for (wire::KeyId id : ring.Ids()) {
    keys.push_back({{"id", wire::KeyIdToText(id)}, {"in_use", id == ring.in_use()}});
  }
  return json{{"in_use", wire::KeyIdToText(ring.in_use())}, {"keys", keys}};
}

void Api::AfterKeyChange(json answer, Respond respond) {
  if (dcm_ == nullptr || !dcm_->has_registry()) return respond(Json(200, answer));
  dcm_->KeyringChanged(
      [answer = std::move(answer), respond = std::move(respond)](Result<std::string> r) mutable {
        if (!r) {
          return respond(
              Fail(503, "the key change is saved, but the registry: " + r.error().message()));
        }
        answer["registry"] = *r;
        respond(Json(200, answer));
      });
}

HttpResponse Api::Ready() const {
  const auto& t = node_.transport();
  // Ready once this node is in a cluster (member or supervisor) and knows another node, or
  // has nobody to find.
  const auto role = node_.membership().role();
  const bool in_cluster =
      role == membership::Role::kMember || role == membership::Role::kSupervisor;
  const bool ready = in_cluster && (t.table().size() > 1 || t.options().seeds.empty());
  return ready ? HttpResponse{200, "text/plain", "ready\n"}
               : HttpResponse{
                     503, "text/plain",
                     std::string("not ready: membership ") + membership::RoleName(role) + "\n"};
}

void Api::Handle(const HttpRequest& r, Respond respond) {
  std::string path = r.target.substr(0, r.target.find('?'));
  const bool get = r.method == "GET";
  if (get && path == "/livez") return respond({200, "text/plain", "ok\n"});
  if (get && path == "/readyz") return respond(Ready());
  if (get && path == "/metrics") return respond(Metrics());
  if (get && path == "/v1/status") return respond(Status());
  if (get && path == "/v1/addresses") return respond(Addresses());
  if (get && path == "/v1/members") return respond(Members());
  if (get && path == "/v1/hierarchy") {
    return respond(hierarchy_ != nullptr ? Json(200, hierarchy_->Document())
                                         : Fail(404, "this daemon runs no hierarchy"));
  }
  if (HandleHealth(health_, node_, r, path, respond)) return;
  if (get && path == "/v1/keys") return respond(Json(200, KeysDocument()));
  if (get && path == "/v1/tables") {
    // Usage lives with the supervisor; ask it, and answer without usage if it is silent.
    const node::Node* node = &node_;
    const node::HierarchyService* hierarchy = hierarchy_;
    node_.FetchUsage(Duration::Millis(500),
                     [node, hierarchy, respond](std::optional<membership::UsageReply> usage) {
                       json doc = node::TablesDocument(*node, usage);
                       doc["levels"] = hierarchy ? hierarchy->LevelTables() : json::array();
                       respond(Json(200, std::move(doc)));
                     });
    return;
  }
  if (get && path == "/v1/dashboard/feed") {
    return respond(feed_ != nullptr ? feed_->Subscribe()
                                    : Fail(503, "this daemon runs no dashboard feed"));
  }
  if (get && path == "/") {
    return respond({200, "text/html; charset=utf-8", std::string(DashboardHtml())});
  }
  if (get && HandleRegistry(dcm_, r, path, respond)) return;
  if (get && HandleConfiguration(dcm_, node_, r, path, respond)) return;
  if (get && HandleJobs(distributor_, r, path, respond)) return;
  if (HandleLiveness(node_, r, path, respond)) return;
  if (get && HandleNetworks(dcm_, node_, r, path, respond)) return;
  if (get && HandleGroups(groups_, r, path, respond)) return;
  if (get && HandleResources(resources_, r, path, respond)) return;
  if (get && HandleInventory(resources_, node_, r, path, respond)) return;
  if (get && HandleParent(node_, dcm_, r, path, respond)) return;
  if (HandleStreams(workload_, r, path, respond)) return;

  if (r.method == "POST" && path == "/v1/ping") return Ping(r, std::move(respond));
  // Sealed under a join token, which authorizes it (cluster_api.h).
  if (r.method == "POST" && path == "/v1/dcm/define") {
    if (dcm_ == nullptr || !dcm_->has_registry()) {
      return respond(Fail(503, "this node runs without the registry: it cannot be defined"));
    }
    return AnswerDefine(dcm_->define_target(), r, respond, [] {});
  }
  if (r.method == "POST" && path == "/v1/dcm/control") {  // sealed under the cluster's key
    if (dcm_ == nullptr || !dcm_->has_registry()) {
      return respond(Fail(503, "this node runs without the registry"));
    }
    return AnswerControlRequest(dcm_->file(), dcm_->Clusters(), r, respond,
                                [dcm = dcm_] { dcm->Restart(); });
  }

  // Everything below changes state.
  const bool mutating = r.method == "POST" || r.method == "DELETE" || r.method == "PUT";
  if (mutating) {
    const std::string expect = "Bearer " + node_.api_token();
    if (!ConstantTimeEqual(r.authorization, expect)) {
      return respond(Fail(401,
                          "this request changes state: send 'Authorization: Bearer "
                          "<token>' with the token from <data_dir>/api.token"));
    }
  }
  if (HandleRegistry(dcm_, r, path, respond)) return;
  if (dcm_ != nullptr && dcm_->has_registry() &&
      HandleClusterChange(dcm_->Clusters(), dcm_->define_target(), r, path, respond,
                          [dcm = dcm_] { dcm->Restart(); })) {
    return;
  }
  if (HandleConfiguration(dcm_, node_, r, path, respond)) return;
  if (HandleNetworks(dcm_, node_, r, path, respond)) return;
  if (HandleJobs(distributor_, r, path, respond)) return;
  if (HandleGroups(groups_, r, path, respond)) return;
  if (HandleResources(resources_, r, path, respond)) return;
  if (HandleInventory(resources_, node_, r, path, respond)) return;
  if (HandleParent(node_, dcm_, r, path, respond)) return;
  if (path == "/v1/keys" || path.rfind("/v1/keys/", 0) == 0) return Keys(r, path, respond);
  if (r.method == "POST" && (path == "/v1/adapters/down" || path == "/v1/adapters/up")) {
    auto body = Body(r);
    if (!body) return respond(FromError(body.error()));
    auto address = Endpoint::Parse(StringField(*body, "address"));
    if (!address) return respond(FromError(address.error()));
    auto s = node_.SetAdapterEnabled(*address, path == "/v1/adapters/up");
    return respond(s ? Addresses() : FromError(s.error()));
  }
  const bool known = path == "/v1/keys" || path == "/v1/keys/use" || path == "/v1/ping" ||
                     path == "/v1/status" || path == "/v1/addresses" || path == "/v1/members" ||
                     path == "/v1/hierarchy" || path == "/v1/tables" || path == "/metrics" ||
                     path == "/v1/liveness" || path.rfind("/v1/liveness/", 0) == 0;
  respond(known ? Fail(405, r.method + " is not allowed on " + path)
                : Fail(404, "no such endpoint: " + path));
}

void Api::Ping(const HttpRequest& r, Respond respond) {
  auto body = Body(r);
  if (!body) return respond(FromError(body.error()));
  const json& b = *body;
  if (!b.contains("node") || !b["node"].is_number_unsigned() || b["node"] == 0 ||
      b["node"] > 65535) {
    return respond(Fail(400, "'node' must be a node id from 1 to 65535"));
  }
  // An absent field takes its default; one of another type is out of range.
  auto number = [&b](const char* key, int64_t absent) -> int64_t {
    if (!b.contains(key)) return absent;
    return b[key].is_number_integer() ? b[key].get<int64_t>() : -1;
  };
  const int64_t count = number("count", 1);
  const int64_t interval_ms = number("interval_ms", 200);
  const int64_t size = number("size", 32);
  if (count < 1 || count > 10000 || interval_ms < 1 || interval_ms > 60000 || size < 0 ||
      size > 60000) {
    return respond(Fail(400, "need count 1..10000, interval_ms 1..60000, size 0..60000"));
  }
  auto started =
      node_.Ping(b["node"].get<NodeId>(), static_cast<int>(count), Duration::Millis(interval_ms),
                 static_cast<size_t>(size), [respond](node::PingResult result) {
                   json replies = json::array();
                   for (const auto& d : result.replies) {
                     json one{{"ok", d.ok},
                              {"attempts", d.attempts},
                              {"elapsed_ms", static_cast<double>(d.elapsed.micros()) / 1000.0}};
                     if (d.ok) {
                       one["address"] = d.answered_by.ToString();
                       one["rtt_ms"] = static_cast<double>(d.rtt.micros()) / 1000.0;
                     }
                     replies.push_back(one);
                   }
                   respond(Json(200, json{{"replies", replies}}));
                 });
  if (!started) respond(FromError(started.error()));
}

// The keys' changes (T8): install, use, remove.
void Api::Keys(const HttpRequest& r, const std::string& path, Respond respond) {
  if (r.method == "DELETE" && path.rfind("/v1/keys/", 0) == 0) {
    auto id = ParseKeyId(path.substr(std::string("/v1/keys/").size()));
    if (!id) return respond(FromError(id.error()));
    auto s = node_.RemoveKey(*id);
    if (!s) return respond(FromError(s.error()));
    return AfterKeyChange(KeysDocument(), std::move(respond));
  }
  if (r.method != "POST" || (path != "/v1/keys" && path != "/v1/keys/use")) {
    return respond(Fail(405, r.method + " is not allowed on " + path));
  }
  auto body = Body(r);
  if (!body) return respond(FromError(body.error()));
  if (path == "/v1/keys/use") {
    auto id = ParseKeyId(StringField(*body, "id"));
    if (!id) return respond(FromError(id.error()));
    auto s = node_.UseKey(*id);
    if (!s) return respond(FromError(s.error()));
    return AfterKeyChange(KeysDocument(), std::move(respond));
  }
  if (!body->contains("key") || !(*body)["key"].is_string()) {
    return respond(Fail(400, "'key' must be the key text printed by `cohort keygen`"));
  }
  auto id = node_.InstallKey((*body)["key"].get<std::string>());
  if (!id) return respond(FromError(id.error()));
  AfterKeyChange(json{{"id", wire::KeyIdToText(*id)}}, std::move(respond));
}

}  // namespace cohort::api
