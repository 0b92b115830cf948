// The API of a node waiting to be defined (dcm/standby.h): what it can answer before it
// runs in a cluster.
//   GET  /livez, /readyz (503 until defined), /v1/status, /v1/clusters
//   POST /v1/join-token                  (API token) a new one-time join token
//   POST /v1/dcm/define                  a defining member's sealed message (define_wire.h)
// Anything else: 503, naming what to do.
#pragma once

#include <functional>
#include <string>

#include "api/server.h"
#include "base/config.h"

namespace cohort::dcm {
class Standby;
}

namespace cohort::api {

// `defined` runs after a commit was answered: the daemon then starts in its cluster.
Handler StandbyHandler(dcm::Standby& standby, const Config& config, std::string api_token,
                       std::function<void()> defined);

}  // namespace cohort::api
