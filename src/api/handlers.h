// Api: the HTTP/JSON handlers of cohortd (INTERFACE.md "HTTP API"), free of any HTTP library
// so they can be tested without sockets. server.h feeds them parsed requests.
//
// Handlers read the node's state and queue commands; they hold no protocol logic. Requests
// that change state need `Authorization: Bearer <token>`. Runs on the node's loop thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "node/node.h"

namespace cohort::dcm {
class Dcm;
}
namespace cohort::node {
class Distributor;
class GroupsService;
class HierarchyService;
class ResourceService;
class WorkloadService;
}  // namespace cohort::node

namespace cohort::io {
class LoopMonitor;
class MediaServer;
}  // namespace cohort::io

namespace cohort::api {

class DashboardFeed;
class HealthMonitor;

struct HttpRequest {
  std::string method;  // "GET", "POST", "DELETE"
  std::string target;  // path and query
  std::string body;
  std::string authorization;  // the Authorization header, if any
  std::string peer;           // the client's address, for the audit log ("" if unknown)
  // The Cohort-Node header: the path of the node anywhere in the tree the request is for
  // (api/tree_relay.h); "" for this node.
  std::string node;
  std::string accept;  // the Accept header
};

// The body of a streamed response, sent as it comes (chunked transfer encoding).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void Write(std::string chunk) = 0;  // ignored once closed
  virtual void Close() = 0;                   // ends the body
  // `fn` runs once when the stream ends, by Close() or because the client went away.
  virtual void OnClosed(std::function<void()> fn) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Set: the body is streamed instead; called with the sink once the headers are sent.
  std::function<void(std::shared_ptr<StreamSink>)> stream;
  std::vector<std::pair<std::string, std::string>> headers;  // more (Location, Retry-After)
};

using Respond = std::function<void(HttpResponse)>;

class Api {
 public:
  // `dcm` may be null (no configuration manager: no registry endpoints).
  explicit Api(node::Node& node, dcm::Dcm* dcm = nullptr, node::Distributor* distributor = nullptr,
               const io::LoopMonitor* loop = nullptr, node::GroupsService* groups = nullptr,
               node::ResourceService* resources = nullptr,
               const node::HierarchyService* hierarchy = nullptr)
      : node_(node),
        dcm_(dcm),
        distributor_(distributor),
        loop_(loop),
        groups_(groups),
        resources_(resources),
        hierarchy_(hierarchy) {}
  // W1, W2: the media workload, where the daemon runs it.
  void SetWorkload(node::WorkloadService* workload, const io::MediaServer* media) {
    workload_ = workload;
    media_ = media;
  }
  // GET /v1/health and the health gauges of /metrics.
  void SetHealth(HealthMonitor* health) { health_ = health; }
  // GET /v1/dashboard/feed: the dashboard's live feed.
  void SetDashboardFeed(DashboardFeed* feed) { feed_ = feed; }
  // Calls `respond` exactly once, now or later (ping answers when its requests finish).
  void Handle(const HttpRequest& request, Respond respond);

 private:
  HttpResponse Status() const;
  HttpResponse Addresses() const;
  HttpResponse Members() const;
  HttpResponse Metrics() const;
  nlohmann::json KeysDocument() const;
  // Answers a key change once the registry's credentials follow it (Dcm::KeyringChanged).
  void AfterKeyChange(nlohmann::json answer, Respond respond);
  HttpResponse Ready() const;
  void Ping(const HttpRequest& r, Respond respond);
  void Keys(const HttpRequest& r, const std::string& path, Respond respond);
  node::Node& node_;
  dcm::Dcm* dcm_;
  node::Distributor* distributor_;
  const io::LoopMonitor* loop_;
  node::GroupsService* groups_;
  node::ResourceService* resources_;
  const node::HierarchyService* hierarchy_;
  node::WorkloadService* workload_ = nullptr;
  const io::MediaServer* media_ = nullptr;
  HealthMonitor* health_ = nullptr;
  DashboardFeed* feed_ = nullptr;
};

}  // namespace cohort::api
