// The API of a node waiting to be defined or brought online (dcm/define_target.h): what
// it can answer before it runs in a cluster.
//   GET  /livez, /readyz (503 until defined), /v1/status, /v1/clusters
//   the changes of cluster_api.h (the API token), and the defining member's sealed messages
// Anything else: 503, naming what to do.
#pragma once

#include <functional>
#include <string>

#include "api/server.h"
#include "base/config.h"

namespace cohort::dcm {
class DefineTarget;
}

namespace cohort::api {

// `defined` runs after a definition's commit was answered, `restart` after a change that
// starts the node in a cluster: the daemon then starts again.
Handler StandbyHandler(dcm::DefineTarget& target, const Config& config, std::string api_token,
                       std::function<void()> defined, std::function<void()> restart);

}  // namespace cohort::api
