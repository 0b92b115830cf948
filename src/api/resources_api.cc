#include "api/resources_api.h"

#include <nlohmann/json.hpp>

#include "api/metrics_text.h"
#include "api/responses.h"
#include "base/text.h"
#include "node/resource_service.h"
#include "resources/records.h"

namespace cohort::api {
namespace {

using nlohmann::json;
using node::ResourceInfo;
using node::ResourceService;

constexpr size_t kMaxWatches = 64;
size_t g_watches = 0;  // the loop's thread only

json NodeOrNull(NodeId n) { return n == kNoNode ? json(nullptr) : json(n); }

json Detail(const ResourceInfo& info) {
  json doc = ResourceSummaryJson(info);
  doc["definition"] = json::parse(resources::EncodeSpec(info.spec));
  json nodes = json::object();
  for (const auto& [node, s] : info.status) {
    nodes[std::to_string(node)] = {{"state", s.state},
                                   {"role", s.role.empty() ? json(nullptr) : json(s.role)},
                                   {"error", s.error},
                                   {"at_ms", s.at_ms}};
  }
  doc["nodes"] = nodes;
  return doc;
}

json ExplainJson(const std::string& name, const resources::Placement& p) {
  json scores = json::array();
  for (const auto& s : p.scores) {
    scores.push_back(
        {{"node", s.node}, {"eligible", s.eligible}, {"score", s.score}, {"why", s.why}});
  }
  return {
      {"resource", name}, {"node", NodeOrNull(p.node)}, {"reason", p.reason}, {"scores", scores}};
}

void Watch(ResourceService& service, const Respond& respond) {
  if (g_watches >= kMaxWatches) return respond(Fail(503, "too many resource watches open"));
  HttpResponse r;
  r.content_type = "application/x-ndjson";
  r.stream = [&service](std::shared_ptr<StreamSink> sink) {
    ++g_watches;
    auto last = std::make_shared<std::map<std::string, std::string>>();
    // Configuration changes from the moment the watch starts, not those before.
    const std::vector<node::ConfigurationChange> earlier = service.Changes(0);
    auto seen = std::make_shared<uint64_t>(earlier.empty() ? 0 : earlier.back().seq);
    auto send = [&service, sink, last, seen] {
      for (const node::ConfigurationChange& c : service.Changes(*seen)) {
        *seen = c.seq;
        sink->Write(json{{"type", "configuration_changed"},
                         {"node", c.node},
                         {"at_ms", c.at_ms},
                         {"added", c.change.added},
                         {"missing", c.change.missing},
                         {"changed", c.change.changed},
                         {"joined", c.change.joined}}
                        .dump(-1, ' ', false, json::error_handler_t::replace) +
                    "\n");
      }
      std::map<std::string, std::string> now;
      for (const ResourceInfo& info : service.List()) {
        json line = ResourceSummaryJson(info);
        line["type"] = "resource";
        now[info.spec.name] = line.dump(-1, ' ', false, json::error_handler_t::replace);
      }
      for (const auto& [name, line] : now) {
        auto before = last->find(name);
        if (before == last->end() || before->second != line) sink->Write(line + "\n");
      }
      for (const auto& [name, line] : *last) {
        if (now.count(name) == 0) {
          sink->Write(json{{"type", "removed"}, {"name", name}}.dump() + "\n");
        }
      }
      *last = std::move(now);
    };
    send();
    const uint64_t id = service.Subscribe(send);
    sink->OnClosed([&service, id] {
      --g_watches;
      service.Unsubscribe(id);
    });
  };
  respond(std::move(r));
}

void Action(ResourceService& service, const std::string& name, const HttpRequest& r,
            const Respond& respond) {
  auto body = Body(r);
  if (!body) return respond(FromError(body.error()));
  const std::string action = StringField(*body, "action");
  // Only actions that change nothing: starting or stopping behind the manager's back would
  // break its one-node-at-a-time rule.
  if (action != "monitor" && action != "meta-data" && action != "validate-all") {
    return respond(Fail(400,
                        "action must be monitor, meta-data or validate-all (start and "
                        "stop are the manager's: use cohort resource start|stop|move)"));
  }
  int64_t timeout_ms = 20000;
  if (auto it = body->find("timeout_ms"); it != body->end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() < 100 || it->get<uint64_t>() > 600000) {
      return respond(Fail(400, "timeout_ms must be between 100 and 600000"));
    }
    timeout_ms = it->get<int64_t>();
  }
  // The action runs here; where the resource runs is said beside it (a monitor here of a
  // resource running elsewhere finds it not running).
  const auto info = service.Find(name);
  const NodeId runs_on = info ? info->owner : kNoNode;
  service.Invoke(name, action, Duration::Millis(timeout_ms),
                 [respond, action, here = service.self(), runs_on](Result<io::ChildResult> got) {
                   if (!got) return respond(FromError(got.error()));
                   respond(Json(200, {{"action", action},
                                      {"node", here},
                                      {"runs_on", NodeOrNull(runs_on)},
                                      {"exit_code", got->exit_code},
                                      {"code", node::OcfCodeName(got->exit_code)},
                                      {"signal", got->signal},
                                      {"timed_out", got->timed_out},
                                      {"output", EscapeInvalidUtf8(got->output)}}));
                 });
}

std::function<void(Status)> Done(const Respond& respond, json ok) {
  return [respond, ok](Status s) { respond(s ? Json(200, ok) : FromError(s.error())); };
}

void Change(ResourceService& service, const std::string& name, const std::string& verb,
            const HttpRequest& r, const Respond& respond) {
  using resources::ResourceSpec;
  if (verb == "start" || verb == "stop") {
    const auto role =
        verb == "start" ? resources::TargetRole::kStarted : resources::TargetRole::kStopped;
    return service.Change(
        name,
        [role](ResourceSpec& s) {
          s.target = role;
          return OkStatus();
        },
        Done(respond, {{"resource", name}, {"target", verb == "start" ? "started" : "stopped"}}));
  }
  if (verb == "move") {
    auto body = Body(r);
    if (!body) return respond(FromError(body.error()));
    auto it = body->find("node");
    if (it == body->end() || !it->is_number_unsigned() || it->get<uint64_t>() == 0 ||
        it->get<uint64_t>() > 65535) {
      return respond(Fail(400, "move needs {\"node\": N}, the node to run it on"));
    }
    const auto to = static_cast<NodeId>(it->get<uint64_t>());
    return service.Change(
        name,
        [to](ResourceSpec& s) {
          s.moved_to = to;
          return OkStatus();
        },
        Done(respond, {{"resource", name}, {"moved_to", to}}));
  }
  if (verb == "clear")
    return service.Clear(name, Done(respond, {{"resource", name}, {"cleared", true}}));
  if (verb == "action") return Action(service, name, r, respond);
  respond(Fail(404, "no such resource operation: " + verb));
}

}  // namespace

std::string ResourceState(const ResourceInfo& info) {
  if (info.owner == kNoNode) {
    for (const auto& [node, s] : info.status) {
      if (s.state == "blocked") return "blocked";
    }
    return "stopped";
  }
  auto s = info.status.find(info.owner);
  return s == info.status.end() ? "acquiring" : s->second.state;
}

namespace {

// "promoted" when its owner reports it promoted (promotable resources), else null.
json RoleOf(const ResourceInfo& info) {
  auto s = info.status.find(info.owner);
  if (info.owner == kNoNode || s == info.status.end() || s->second.role.empty()) return nullptr;
  return s->second.role;
}

}  // namespace

std::string ResourceError(const ResourceInfo& info) {
  int64_t at = -1;
  std::string error;
  for (const auto& [node, s] : info.status) {
    if (!s.error.empty() && s.at_ms > at) {
      at = s.at_ms;
      error = "node " + std::to_string(node) + ": " + s.error;
    }
  }
  return error;
}

json ResourceSummaryJson(const ResourceInfo& info) {
  json fails = json::object();
  for (const auto& [node, count] : info.fail_counts) fails[std::to_string(node)] = count;
  return {{"name", info.spec.name},
          {"class", resources::ClassName(info.spec.cls)},
          {"agent", info.spec.agent},
          {"target", info.spec.target == resources::TargetRole::kStarted ? "started" : "stopped"},
          {"node", NodeOrNull(info.owner)},
          {"state", ResourceState(info)},
          {"role", RoleOf(info)},
          {"placed", NodeOrNull(info.placed)},
          {"placed_reason", info.placed_reason},
          {"moved_to", NodeOrNull(info.spec.moved_to)},
          {"fail_counts", fails},
          {"error", ResourceError(info)}};
}

bool HandleResources(ResourceService* service, const HttpRequest& r, const std::string& path,
                     const Respond& respond) {
  const std::string root = "/v1/resources";
  if (path != root && path.rfind(root + "/", 0) != 0) return false;
  if (service == nullptr) {
    respond(Fail(503, "this node runs without the registry: no resource manager"));
    return true;
  }
  const std::string rest = path.size() > root.size() ? path.substr(root.size() + 1) : "";
  const size_t slash = rest.find('/');
  const std::string name = rest.substr(0, slash);
  const std::string verb = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (r.method == "GET") {
    if (rest.empty()) {
      json list = json::array();
      for (const ResourceInfo& info : service->List()) list.push_back(ResourceSummaryJson(info));
      respond(Json(200, {{"synced", service->synced()}, {"resources", list}}));
    } else if (rest == "watch") {
      Watch(*service, respond);
    } else if (verb.empty() || verb == "explain") {
      if (verb == "explain") {
        auto p = service->Explain(name);
        respond(p ? Json(200, ExplainJson(name, *p)) : FromError(p.error()));
      } else {
        auto info = service->Find(name);
        respond(info ? Json(200, Detail(*info)) : Fail(404, "no resource named " + name));
      }
    } else {
      respond(Fail(404, "no such resource view: " + verb));
    }
    return true;
  }
  if (r.method == "POST" && rest.empty()) {
    auto spec = resources::ParseSpec(r.body);
    if (!spec) {
      respond(FromError(spec.error()));
      return true;
    }
    service->Define(*spec, Done(respond, {{"created", spec->name}}));
    return true;
  }
  if (!resources::ValidName(name)) {
    respond(Fail(400, "not a resource name: " + name));
    return true;
  }
  if (r.method == "DELETE" && verb.empty()) {
    service->Remove(name, Done(respond, {{"deleted", name}}));
    return true;
  }
  if (r.method == "POST" && !verb.empty()) {
    Change(*service, name, verb, r, respond);
    return true;
  }
  respond(Fail(405, "method not allowed on " + path));
  return true;
}

std::string ResourcesMetrics(const ResourceService& service) {
  const node::ResourceMetrics& m = service.metrics();
  MetricsText t;
  t.Counter("cohort_resource_actions_total", "Resource actions (start, stop, monitor) run here.",
            m.actions);
  t.Counter("cohort_resource_action_failures_total", "Resource actions that failed here.",
            m.action_failures);
  t.Counter("cohort_resource_lease_renewals_total", "Renewals of this node's registry lease.",
            m.lease_renewals);
  t.Counter("cohort_resource_leases_lost_total",
            "Times this node's lease ended at the registry or its alive key was taken.",
            m.leases_lost);
  t.Counter("cohort_resource_alive_renewals_total",
            "Renewals of this node's alive key (fast takeover).", m.alive_renewals);
  t.Counter("cohort_resource_takeovers_total",
            "Owner keys this node took from a node whose alive key stood still.", m.takeovers);
  t.Counter("cohort_resource_fenced_total",
            "Times this node stopped its resources because its lease might end.", m.fenced);
  t.Counter("cohort_resource_placements_total", "Placements written (as supervisor).",
            m.placements_written);
  t.Counter("cohort_resource_inventory_writes_total",
            "This node's inventory of built-in resources written to the registry.",
            m.inventory_writes);
  t.Counter("cohort_resource_configuration_changes_total",
            "Inventory changes (configuration-changed events) seen from any node.",
            m.configuration_changes);
  size_t running = 0;
  for (const auto& [name, state] : service.LocalStates()) {
    running +=
        state == resources::LocalState::kRunning || state == resources::LocalState::kMonitoring;
  }
  t.Gauge("cohort_resources_running", "Resources running on this node.",
          static_cast<double>(running));
  return t.Take();
}

}  // namespace cohort::api
