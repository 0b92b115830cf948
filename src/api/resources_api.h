// The resource manager over HTTP (RM2; README "HTTP API", docs/design/resources.md).
//   GET    /v1/resources                    every resource: where it runs and its state
//   GET    /v1/resources/<name>             one, with its definition and each node's report
//   GET    /v1/resources/<name>/explain     where it would go now and why, node by node
//   GET    /v1/resources/watch              a stream of JSON lines: each resource at once,
//                                           then each one again whenever it changes, and
//                                           each configuration change (C9) as it is seen
// Changes (the API token):
//   POST   /v1/resources                    a definition (JSON, resources/records.h)
//   DELETE /v1/resources/<name>
//   POST   /v1/resources/<name>/start|stop  its target role
//   POST   /v1/resources/<name>/move        {"node": N}: runs there until `clear`
//   POST   /v1/resources/<name>/clear       drops the move, resets fail counts, unblocks
//   POST   /v1/resources/<name>/action      {"action", "timeout_ms"}: runs the agent's
//                                           action on this node and answers its result,
//                                           this node and the node the resource runs on
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "api/handlers.h"

namespace cohort::node {
class ResourceService;
struct ResourceInfo;
}  // namespace cohort::node

namespace cohort::api {

bool HandleResources(node::ResourceService* resources, const HttpRequest& r,
                     const std::string& path, const Respond& respond);

// The Prometheus lines of the resource manager on this node.
std::string ResourcesMetrics(const node::ResourceService& resources);

// A resource's summary as listed (and streamed by watch).
nlohmann::json ResourceSummaryJson(const node::ResourceInfo& info);
// Its state from its owner's report ("running", "starting"…): "stopped" when no one holds
// it, "blocked" when a node's stop of it failed.
std::string ResourceState(const node::ResourceInfo& info);
// The latest failure any node reported ("node 2: …"), "" if none.
std::string ResourceError(const node::ResourceInfo& info);

}  // namespace cohort::api
