// Group Services over HTTP (G1–G3; README "HTTP API", docs/design/groups.md). Reads:
//   GET  /v1/groups                      every group as the registry holds it
//   GET  /v1/groups/<name>               one group, with its latest requests' outcomes
// Client sessions (a session is one client process; its requests need the API token):
//   POST /v1/groups/sessions             a stream of JSON lines: first {"type":"session"},
//                                        then the session's events; its end (the client
//                                        hanging up) fails the session out of its groups
//   POST /v1/groups/<name>/join          {"session", "role", "default_vote", "depends"}
//   POST /v1/groups/<name>/leave         {"session"}
//   POST /v1/groups/<name>/propose       {"session", "value" | "value_hex", "phases"}
//   POST /v1/groups/<name>/vote          {"session", "request", "phase", "approve"}
// join, leave and propose answer {"request"} at once, or with "wait_ms" the outcome once it
// is known ({"outcome": "pending"} if not within wait_ms).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "api/handlers.h"
#include "groups/core.h"

namespace cohort::node {
class GroupsService;
}

namespace cohort::api {

// Handles `r` if `path` is /v1/groups or under it; false otherwise. Writes must have been
// authorized by the caller.
bool HandleGroups(node::GroupsService* groups, const HttpRequest& r, const std::string& path,
                  const Respond& respond);

// The Prometheus lines of Group Services on this node.
std::string GroupsMetrics(const node::GroupsService& groups);

// One event of a session as its JSON line's document.
nlohmann::json GroupEventJson(const groups::Output& event);

}  // namespace cohort::api
