// The configuration manager's definitions over HTTP (issue 18; INTERFACE.md `cohort
// cluster ...`, `cohort node ...`):
//   GET    /v1/clusters        the clusters this node is defined to (C2): id, name, its
//                              number and UID in each, which is current and target
//   GET    /v1/nodes           the nodes defined in this node's cluster (C4), with their
//                              membership state
//   POST   /v1/nodes {"address", "join_token", "number"?, "name"?}
//                              define the node waiting at that API address (C7)
//   DELETE /v1/nodes/<n>       undefine node n (C6): it must not be up
//   POST   /v1/nodes/<n>/online|offline   start node n in the cluster, or take it out (C6)
//   POST   /v1/nodes/<n>/modify {"name"}  rename node n (C6)
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "api/handlers.h"

namespace cohort::dcm {
class Dcm;
struct LocalConfiguration;
}  // namespace cohort::dcm
namespace cohort::node {
class Node;
}

namespace cohort::api {

// Handles `r` if `path` is one of the above; false otherwise. Changes must have been
// authorized by the caller.
// GET /v1/clusters' document: the clusters in local storage, this machine's UID and how its
// definition stands ("waiting" on a node not yet defined).
nlohmann::json ClustersDocument(const dcm::LocalConfiguration& local, const std::string& uid,
                                const std::string& identity);

// MessageReply that also writes the request, who sent it and its outcome to the node's
// audit log (C2): for the configuration operations.
std::function<void(Result<std::string>)> AuditedReply(dcm::Dcm& dcm, const HttpRequest& r,
                                                      Respond respond);

bool HandleConfiguration(dcm::Dcm* dcm, const node::Node& node, const HttpRequest& r,
                         const std::string& path, const Respond& respond);

}  // namespace cohort::api
