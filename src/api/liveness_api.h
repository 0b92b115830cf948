// The liveness endpoints (L1): the path matrix of every network, its changes by long poll
// and as a stream. Read-only; runs on the node's loop thread.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "api/handlers.h"

namespace cohort::api {

// Handles GET /v1/liveness, /v1/liveness/changes and /v1/liveness/watch; false for any
// other request.
bool HandleLiveness(node::Node& node, const HttpRequest& r, const std::string& path,
                    const Respond& respond);

// The matrix document: every network's adapters, their states and paths (INTERFACE.md).
nlohmann::json LivenessDocument(node::Node& node);

}  // namespace cohort::api
