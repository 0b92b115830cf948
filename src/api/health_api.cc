#include "api/health_api.h"

#include <nlohmann/json.hpp>

#include "api/metrics_text.h"
#include "api/resources_api.h"
#include "api/responses.h"
#include "dcm/dcm.h"
#include "io/clock.h"
#include "node/distributor.h"
#include "node/liveness_log.h"
#include "node/resource_service.h"

namespace cohort::api {
namespace {

using nlohmann::json;
using node::health::Area;
using node::health::Report;
using node::health::Verdict;

int64_t NowMs() { return static_cast<int64_t>(io::WallMillis()); }

node::health::ResourceBrief Brief(const node::ResourceInfo& info) {
  node::health::ResourceBrief b;
  b.name = info.spec.name;
  b.should_run = info.spec.target == resources::TargetRole::kStarted;
  const std::string state = ResourceState(info);
  b.running = state == "running" || state == "promoting" || state == "demoting";
  for (const auto& [node, s] : info.status) {
    if (s.state == "blocked") b.blocked_on = node;
  }
  b.error = ResourceError(info);
  b.placed_reason = info.placed_reason;
  return b;
}

std::string Summary(const Report& r) {
  std::string s = std::to_string(r.members_up) + " of " + std::to_string(r.members_total) +
                  " nodes up; supervisor: " +
                  (r.supervisor == kNoNode ? "none" : "node " + std::to_string(r.supervisor));
  if (r.registry) {
    s += "; registry: ";
    s += r.registry->leader == kNoNode ? "no leader"
                                       : "leader node " + std::to_string(r.registry->leader);
    s += ", " + std::to_string(r.registry_servers_up) + " of " +
         std::to_string(r.registry->servers.size()) + " servers up";
  }
  return s;
}

}  // namespace

HealthMonitor::HealthMonitor(boost::asio::io_context& io, node::Node& node, dcm::Dcm* dcm,
                             const node::Distributor* distributor,
                             const node::ResourceService* resources)
    : node_(node), dcm_(dcm), distributor_(distributor), resources_(resources), timer_(io) {}

void HealthMonitor::Start() {
  watch_.ObserveMap(node_.membership().map(), NowMs());
  node_.OnMembershipChanged([this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    watch_.ObserveMap(node_.membership().map(), NowMs());
  });
  Tick();
}

void HealthMonitor::Tick() {
  Check();
  timer_.After(Duration::Seconds(1), [this] { Tick(); });
}

node::health::Inputs HealthMonitor::Gather() {
  node::health::Inputs in;
  in.self = node_.config().node_id;
  in.role = node_.membership().role();
  in.starting = node_.Now() - node_.started() < Duration::Seconds(15);
  in.map = node_.membership().map();
  if (dcm_ != nullptr && dcm_->has_registry()) {
    in.registry_configured = true;
    in.registry = dcm_->registry_status();
    in.registry_servers = dcm_->registry_order();
    in.registry_error = dcm_->registry_error();
  }
  const Instant now = node_.Now();
  const uint64_t seq = node_.liveness_log().seq();
  if (!networks_known_ || seq != networks_seq_ || now - networks_at_ >= Duration::Seconds(10)) {
    networks_ = node_.liveness().View();
    networks_seq_ = seq;
    networks_at_ = now;
    networks_known_ = true;
  }
  in.networks = networks_;
  if (distributor_ != nullptr) in.jobs = distributor_->JobBriefs();
  if (resources_ != nullptr) {
    in.resources_synced = resources_->synced();
    for (const node::ResourceInfo& info : resources_->List()) in.resources.push_back(Brief(info));
  }
  return in;
}

Report HealthMonitor::Check() {
  Report r = node::health::Evaluate(Gather());
  watch_.Stamp(r, NowMs());
  last_ = r;
  return r;
}

json HealthJson(const Report& report, const node::Node& node, int64_t now_ms) {
  json areas = json::object();
  for (int a = 0; a < node::health::kAreaCount; ++a) {
    areas[node::health::AreaName(static_cast<Area>(a))] = "ok";
  }
  json problems = json::array();
  for (const auto& p : report.problems) {
    const char* area = node::health::AreaName(p.area);
    if (areas[area] != "down") areas[area] = node::health::VerdictName(p.severity);
    problems.push_back(
        {{"severity", node::health::VerdictName(p.severity)},
         {"area", area},
         {"what", p.what},
         {"where", p.where},
         {"action", p.action},
         {"since_ms", p.since_ms == 0 ? json(nullptr) : json(p.since_ms)},
         {"for_s", p.since_ms == 0 ? json(nullptr) : json((now_ms - p.since_ms) / 1000)}});
  }
  json registry = nullptr;
  if (report.registry) {
    registry = {{"phase", registry::PhaseName(report.registry->phase)},
                {"leader", report.registry->leader == kNoNode ? json(nullptr)
                                                              : json(report.registry->leader)},
                {"servers", report.registry->servers},
                {"servers_up", report.registry_servers_up}};
  }
  return {{"verdict", node::health::VerdictName(report.verdict)},
          {"exit_code", static_cast<int>(report.verdict)},
          {"summary", Summary(report)},
          {"cluster", node.config().cluster_name},
          {"checked_by", {{"id", node.config().node_id}, {"name", node.config().node_name}}},
          {"at_ms", now_ms},
          {"members", {{"up", report.members_up}, {"total", report.members_total}}},
          {"supervisor", report.supervisor == kNoNode ? json(nullptr) : json(report.supervisor)},
          {"registry", registry},
          {"areas", areas},
          {"problems", problems}};
}

json HistoryJson(const node::health::HealthWatch& watch) {
  auto state = [](const std::optional<membership::MemberState>& s) {
    return s ? json(membership::MemberStateName(*s)) : json(nullptr);
  };
  json history = json::array();
  for (const auto& t : watch.history()) {
    history.push_back(
        {{"at_ms", t.at_ms}, {"node", t.node}, {"from", state(t.from)}, {"to", state(t.to)}});
  }
  return {{"history", history}};
}

std::string HealthMetrics(const Report& report) {
  MetricsText t;
  t.Gauge("cohort_health_status",
          "The cluster's health as this node judges it (cohort doctor): 0 healthy, 1 degraded, "
          "2 down.",
          static_cast<int>(report.verdict));
  t.Family("cohort_health_problems", "gauge", "Problems cohort doctor states, by area.");
  int count[node::health::kAreaCount] = {};
  for (const auto& p : report.problems) ++count[static_cast<int>(p.area)];
  for (int a = 0; a < node::health::kAreaCount; ++a) {
    t.Sample("cohort_health_problems", {{"area", node::health::AreaName(static_cast<Area>(a))}},
             count[a]);
  }
  return t.Take();
}

bool HandleHealth(HealthMonitor* monitor, const node::Node& node, const HttpRequest& r,
                  const std::string& path, const Respond& respond) {
  if (path != "/v1/health" && path != "/v1/members/history") return false;
  if (r.method != "GET") {
    respond(Fail(405, r.method + " is not allowed on " + path));
  } else if (monitor == nullptr) {
    respond(Fail(503, "this daemon runs no health monitor"));
  } else if (path == "/v1/health") {
    respond(Json(200, HealthJson(monitor->Check(), node, NowMs())));
  } else {
    respond(Json(200, HistoryJson(monitor->watch())));
  }
  return true;
}

}  // namespace cohort::api
