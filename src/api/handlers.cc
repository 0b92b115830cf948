#include "api/handlers.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/cluster_api.h"
#include "api/config_api.h"
#include "api/dashboard.h"
#include "api/groups_api.h"
#include "api/health_api.h"
#include "api/inventory_api.h"
#include "api/jobs_api.h"
#include "api/liveness_api.h"
#include "api/network_api.h"
#include "api/parent_api.h"
#include "api/registry_api.h"
#include "api/resources_api.h"
#include "api/responses.h"
#include "api/streams_api.h"
#include "base/digest.h"
#include "dcm/dcm.h"
#include "dcm/define_target.h"
#include "io/loop_monitor.h"
#include "liveness/messages.h"
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
  const auto& m = node_.transport().metrics();
  std::ostringstream s;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    s << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
      << name << " " << v << "\n";
  };
  auto gauge = [&](const char* name, const char* help, uint64_t v) {
    s << "# HELP " << name << " " << help << "\n# TYPE " << name << " gauge\n"
      << name << " " << v << "\n";
  };
  counter("cohort_transport_datagrams_sent_total", "Sealed datagrams sent.", m.datagrams_sent);
  counter("cohort_transport_datagrams_received_total",
          "Datagrams received, authenticated and accepted.", m.datagrams_received);
  counter("cohort_transport_bytes_sent_total", "Bytes of sealed datagrams sent.", m.bytes_sent);
  counter("cohort_transport_bytes_received_total", "Bytes of accepted datagrams.",
          m.bytes_received);
  s << "# HELP cohort_transport_datagrams_rejected_total Datagrams dropped, by reason.\n"
    << "# TYPE cohort_transport_datagrams_rejected_total counter\n";
  for (int r = 0; r < wire::kRejectCount; ++r) {
    s << "cohort_transport_datagrams_rejected_total{reason=\""
      << wire::RejectLabel(static_cast<wire::Reject>(r)) << "\"} " << m.rejected[r] << "\n";
  }
  counter("cohort_transport_failovers_total",
          "Requests re-sent to an alternate address after a timeout.", m.failovers);
  counter("cohort_transport_requests_total", "Requests started.", m.requests);
  counter("cohort_transport_requests_failed_total", "Requests with no reply on any address.",
          m.requests_failed);
  counter("cohort_transport_fragments_sent_total", "Fragments sent for large messages.",
          m.fragments_sent);
  counter("cohort_transport_messages_too_large_total",
          "Messages dropped at the sender: larger than a receiver takes or the path carries.",
          m.messages_too_large);
  counter("cohort_transport_table_changes_total", "Address table updates merged.", m.table_changes);
  s << "# HELP cohort_transport_adapter_bytes_sent_total Bytes of sealed datagrams sent from "
       "each local adapter, by the service they carried (RM3).\n"
    << "# TYPE cohort_transport_adapter_bytes_sent_total counter\n";
  for (const auto& [key, bytes] : m.bytes_sent_by) {
    const auto& adapters = node_.transport().options().adapters;
    if (key.first >= adapters.size()) continue;
    const char* service = key.second == membership::kChannel ? "membership"
                          : key.second == liveness::kChannel ? "liveness"
                          : key.second == 0                  ? "transport"
                                                             : "other";
    s << "cohort_transport_adapter_bytes_sent_total{adapter=\""
      << adapters[key.first].info.address.ToString() << "\",service=\"" << service << "\"} "
      << bytes << "\n";
  }
  gauge("cohort_transport_table_nodes", "Nodes in the address table.",
        node_.transport().table().size());
  gauge("cohort_transport_table_version", "Address table version.",
        node_.transport().table().version());
  const auto& mm = node_.membership().metrics();
  gauge("cohort_membership_is_supervisor", "1 if this node is the cluster supervisor.",
        node_.membership().role() == membership::Role::kSupervisor ? 1 : 0);
  counter("cohort_membership_supervisor_changes_total", "Times this node's supervisor changed.",
          mm.supervisor_changes);
  counter("cohort_membership_failures_declared_total",
          "Failures marked in the map while this node supervised.", mm.failures_declared);
  counter("cohort_membership_declarations_sent_total",
          "Failures this node declared as a ring successor.", mm.declarations_sent);
  gauge("cohort_membership_map_version", "Version of the cluster map this node holds.",
        node_.membership().map().version);
  counter("cohort_membership_disk_failures_declared_total",
          "Disks declared failed while this node supervised (M11).", mm.disk_failures_declared);
  counter("cohort_membership_disk_path_failures_total",
          "Disk access paths marked failed while this node supervised.", mm.disk_path_failures);
  counter("cohort_disk_check_failures_total", "This node's disk checks that failed.",
          node_.disk_check_failures());
  const auto& lm = node_.liveness().metrics();
  counter("cohort_liveness_heartbeats_sent_total", "Heartbeats sent from this node's adapters.",
          lm.heartbeats_sent);
  counter("cohort_liveness_heartbeats_received_total",
          "Heartbeats received on this node's adapters.", lm.heartbeats_received);
  counter("cohort_liveness_heartbeat_bytes_sent_total",
          "Payload bytes of heartbeats sent (before the seal and headers).",
          lm.heartbeat_bytes_sent);
  counter("cohort_liveness_probes_sent_total",
          "Asks for a heartbeat on a path whose heartbeat was overdue.", lm.probes_sent);
  counter("cohort_liveness_rows_sent_total", "Rows of the path matrix this node sent.",
          lm.rows_sent);
  counter("cohort_liveness_rows_received_total", "Newer rows of other nodes received.",
          lm.rows_received);
  counter("cohort_liveness_row_bytes_received_total",
          "Payload bytes of every row received, taken or not (before the seal and headers).",
          lm.row_bytes_received);
  s << "# HELP cohort_liveness_paths Paths between adapters of different nodes, by network "
       "and state, as this node sees them.\n# TYPE cohort_liveness_paths gauge\n";
  for (const liveness::NetworkView& v : node_.liveness().View()) {
    std::map<liveness::PathState, size_t> count;
    for (const auto& row : v.paths) {
      for (liveness::PathState p : row) ++count[p];
    }
    for (auto state :
         {liveness::PathState::kUp, liveness::PathState::kDown, liveness::PathState::kUnknown}) {
      s << "cohort_liveness_paths{network=\"" << v.name << "\",state=\""
        << liveness::PathStateName(state) << "\"} " << count[state] << "\n";
    }
  }
  if (distributor_ != nullptr) {
    counter("cohort_distribution_bytes_sent_total", "Job content bytes sent to other servers.",
            distributor_->bytes_sent());
    counter("cohort_distribution_bytes_received_total",
            "Job content bytes received from other servers.", distributor_->bytes_received());
    gauge("cohort_distribution_jobs_held",
          "Jobs in this node's memory: running, or finished less than forget_after_s ago.",
          distributor_->jobs_held());
    s << "# HELP cohort_distribution_adapter_bytes_sent_total Bytes the data plane wrote from "
         "each local address (RM3: which network distribution data took).\n"
      << "# TYPE cohort_distribution_adapter_bytes_sent_total counter\n";
    for (const auto& [ip, bytes] : distributor_->bytes_sent_by_adapter()) {
      s << "cohort_distribution_adapter_bytes_sent_total{adapter=\"" << Ipv4ToString(ip) << "\"} "
        << bytes << "\n";
    }
  }
  if (!node_.disk_checks().empty()) {
    s << "# HELP cohort_disk_ok 1 if this node's latest check of the disk passed.\n"
      << "# TYPE cohort_disk_ok gauge\n";
    for (const auto& [id, c] : node_.disk_checks()) {
      s << "cohort_disk_ok{disk=\"" << id << "\"} " << (c.ok ? 1 : 0) << "\n";
    }
    s << "# HELP cohort_disk_check_seconds Duration of this node's latest check of the disk.\n"
      << "# TYPE cohort_disk_check_seconds gauge\n";
    for (const auto& [id, c] : node_.disk_checks()) {
      s << "cohort_disk_check_seconds{disk=\"" << id << "\"} "
        << static_cast<double>(c.took.micros()) / 1e6 << "\n";
    }
  }
  counter("cohort_membership_messages_sent_total", "Membership messages sent.", mm.messages_sent);
  if (dcm_ != nullptr && dcm_->has_registry()) {
    const auto& rs = dcm_->registry_status();
    gauge("cohort_registry_has_leader", "1 if the registry has a leader (read-write phase).",
          rs && rs->phase == registry::Phase::kReadWrite ? 1 : 0);
    gauge("cohort_registry_server_restarts", "Times this node's registry server was restarted.",
          dcm_->server_restarts());
    gauge("cohort_registry_map_version_published",
          "Highest cluster map version stored in the registry by or before this node.",
          dcm_->map_published());
  }
  if (groups_ != nullptr) s << GroupsMetrics(*groups_);
  if (resources_ != nullptr) s << ResourcesMetrics(*resources_);
  if (workload_ != nullptr) s << StreamsMetrics(*workload_, media_);
  if (loop_ != nullptr) s << loop_->Metrics();
  if (health_ != nullptr) s << HealthMetrics(health_->Check());
  return {200, "text/plain; version=0.0.4", s.str()};
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
