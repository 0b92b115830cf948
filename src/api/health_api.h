// GET /v1/health: the cluster's health as this node sees it (node/health.h), gathered from
// the daemon's components; and the health gauges of /metrics. HealthMonitor keeps the time
// side: the members' state history from every map the node takes, and a check each second
// so a problem's start is known even when nobody asked.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "api/handlers.h"
#include "io/timer.h"
#include "node/health.h"

namespace cohort::api {

class HealthMonitor {
 public:
  // Any component pointer may be null (the daemon runs without it).
  HealthMonitor(boost::asio::io_context& io, node::Node& node, dcm::Dcm* dcm,
                const node::Distributor* distributor, const node::ResourceService* resources);
  void Start();
  // Evaluates now.
  node::health::Report Check();
  // The report of the latest check (at most a second old): what /metrics shows.
  const node::health::Report& last() const { return last_; }
  const node::health::HealthWatch& watch() const { return watch_; }

 private:
  node::health::Inputs Gather();
  void Tick();

  node::Node& node_;
  dcm::Dcm* dcm_;
  const node::Distributor* distributor_;
  const node::ResourceService* resources_;
  node::health::HealthWatch watch_;
  node::health::Report last_;
  // The liveness matrix is built again only when a change was logged, or every 10 s: on a
  // large cluster it is the costly part of a check.
  std::vector<liveness::NetworkView> networks_;
  uint64_t networks_seq_ = 0;
  Instant networks_at_;
  bool networks_known_ = false;
  io::Timer timer_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The report as GET /v1/health answers it (INTERFACE.md).
nlohmann::json HealthJson(const node::health::Report& report, const node::Node& node,
                          int64_t now_ms);
// GET /v1/members/history: {"history": [{"at_ms", "node", "from", "to"}]}, oldest first,
// each member's changes of state as this node saw them (null: not listed).
nlohmann::json HistoryJson(const node::health::HealthWatch& watch);
// cohort_health_status and cohort_health_problems{area}.
std::string HealthMetrics(const node::health::Report& report);
// GET /v1/health and /v1/members/history (with no monitor: 503).
bool HandleHealth(HealthMonitor* monitor, const node::Node& node, const HttpRequest& r,
                  const std::string& path, const Respond& respond);

}  // namespace cohort::api
