// Network objects over HTTP (C11; `cohort network ...`, `cohort subnet ...`):
//   GET  /v1/networks                 networks (with their routing tables), subnets (with the
//                                     node addresses on each) and the services
//   POST /v1/networks {"name", "priority"?: {"<service>": n}}           define a network
//   POST /v1/networks/modify {"name", "new_name"?, "priority"?}         modify it
//   POST /v1/networks/undefine {"name"}                                  undefine it
//   POST /v1/subnets {"prefix", "network"?}                              define a subnet
//   POST /v1/subnets/modify {"prefix", "network"}   map it to a network ("" unmaps it)
//   POST /v1/subnets/undefine {"prefix"}                                 undefine it
#pragma once

#include <string>

#include "api/handlers.h"

namespace cohort::dcm {
class Dcm;
}

namespace cohort::api {

// Handles `r` if `path` is one of the above; false otherwise. Changes must have been
// authorized by the caller.
bool HandleNetworks(dcm::Dcm* dcm, node::Node& node, const HttpRequest& r, const std::string& path,
                    const Respond& respond);

}  // namespace cohort::api
