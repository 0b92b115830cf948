#include "api/liveness_api.h"

#include <nlohmann/json.hpp>

#include "api/registry_api.h"
#include "api/responses.h"

namespace cohort::api {
namespace {

using nlohmann::json;

constexpr int64_t kMaxPollMs = 60'000;

json AdapterJson(const liveness::Adapter& a) {
  return json{{"node", a.node}, {"address", a.address.ToString()}, {"network", a.network}};
}

json ChangeJson(const liveness::Output& o, uint64_t seq, uint64_t wall_ms) {
  json j{{"seq", seq}, {"time_ms", wall_ms}};
  if (auto* p = std::get_if<liveness::PathChanged>(&o)) {
    j["type"] = "path";
    j["from"] = p->from.address.ToString();
    j["from_node"] = p->from.node;
    j["to"] = p->to.address.ToString();
    j["to_node"] = p->to.node;
    j["network"] = p->to.network;
    j["state"] = liveness::PathStateName(p->state);
  } else if (auto* a = std::get_if<liveness::AdapterChanged>(&o)) {
    j["type"] = "adapter";
    j.update(AdapterJson(a->adapter));
    j["state"] = liveness::AdapterStateName(a->state);
  }
  return j;
}

json ChangesJson(const node::LivenessChanges& c) {
  json list = json::array();
  for (const auto& change : c.changes)
    list.push_back(ChangeJson(change.change, change.seq, change.wall_ms));
  return json{{"changes", list}, {"seq", c.seq}, {"missed", c.missed}};
}

// Every change as one JSON line, until the client leaves.
void StreamChanges(node::Node& node, const Respond& respond) {
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [&node](std::shared_ptr<StreamSink> sink) {
    const uint64_t id = node.liveness_log().Follow([sink](const node::LivenessChange& c) {
      sink->Write(ChangeJson(c.change, c.seq, c.wall_ms).dump() + "\n");
    });
    sink->OnClosed([&node, id] { node.liveness_log().Unfollow(id); });
  };
  respond(std::move(r));
}

}  // namespace

json LivenessDocument(node::Node& node) {
  const liveness::LivenessCore& core = node.liveness();
  json networks = json::array();
  for (const liveness::NetworkView& v : core.View()) {
    json adapters = json::array();
    for (size_t i = 0; i < v.adapters.size(); ++i) {
      json a = AdapterJson(v.adapters[i]);
      a.erase("network");
      a["state"] = liveness::AdapterStateName(v.states[i]);
      adapters.push_back(std::move(a));
    }
    json paths = json::array();
    for (const auto& row : v.paths) {
      json r = json::array();
      for (liveness::PathState s : row) {
        r.push_back(s == liveness::PathState::kNone ? json(nullptr)
                                                    : json(liveness::PathStateName(s)));
      }
      paths.push_back(std::move(r));
    }
    networks.push_back(json{{"name", v.name}, {"adapters", adapters}, {"paths", paths}});
  }
  const auto& m = core.metrics();
  const auto& o = core.options();
  return json{{"node", o.self},
              {"period_ms", o.period.millis()},
              {"miss_limit", o.miss_limit},
              {"seq", node.liveness_log().seq()},
              {"networks", networks},
              {"metrics",
               {{"heartbeats_sent", m.heartbeats_sent},
                {"heartbeats_received", m.heartbeats_received},
                {"heartbeat_bytes_sent", m.heartbeat_bytes_sent},
                {"probes_sent", m.probes_sent},
                {"silences", m.silences},
                {"rows_sent", m.rows_sent},
                {"rows_received", m.rows_received},
                {"row_bytes_sent", m.row_bytes_sent},
                {"row_bytes_received", m.row_bytes_received},
                {"rejected", m.rejected}}}};
}

bool HandleLiveness(node::Node& node, const HttpRequest& r, const std::string& path,
                    const Respond& respond) {
  if (r.method != "GET") return false;
  if (path == "/v1/liveness") return respond(Json(200, LivenessDocument(node))), true;
  if (path == "/v1/liveness/watch") return StreamChanges(node, respond), true;
  if (path != "/v1/liveness/changes") return false;
  auto after = NumberParam(r.target, "after", 0, 0, INT64_MAX);
  auto timeout = NumberParam(r.target, "timeout_ms", 0, 0, kMaxPollMs);
  if (!after) return respond(FromError(after.error())), true;
  if (!timeout) return respond(FromError(timeout.error())), true;
  node.liveness_log().Wait(
      static_cast<uint64_t>(*after), Duration::Millis(*timeout),
      [respond](node::LivenessChanges c) { respond(Json(200, ChangesJson(c))); });
  return true;
}

}  // namespace cohort::api
