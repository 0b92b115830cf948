// M14: the levels above this node's cluster, defined at run time (dcm/stored_parent.h):
//   GET    /v1/cluster/parent  the levels this node runs with: where they were defined
//                              ("run-time", "file" or "none") and each level's settings
//   PUT    /v1/cluster/parent  body: [cluster.parent] TOML as in a node's file; checked,
//                              kept, and the node starts again to follow it
//   DELETE /v1/cluster/parent  forget it: the node's file decides again (it starts again)
#pragma once

#include <string>

#include "api/handlers.h"

namespace cohort::dcm {
class Dcm;
}

namespace cohort::api {

// Handles `r` if `path` is the above; false otherwise. Changes must have been authorized
// by the caller; `dcm` may be null (then a change is refused).
bool HandleParent(const node::Node& node, dcm::Dcm* dcm, const HttpRequest& r,
                  const std::string& path, const Respond& respond);

}  // namespace cohort::api
