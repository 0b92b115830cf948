// The changes to the clusters a node is defined to (issue 18; C3, C7, C10), the same on a
// node that runs in a cluster and on one that waits:
//   POST   /v1/clusters {"name", "number"?, "registry_client"?, "registry_peer"?}
//                                       define a new cluster with this node as its first member
//   DELETE /v1/clusters/<name>          forget a cluster this node does not run in
//   POST   /v1/clusters/<name>/online   start in it (a waiting node)
//   POST   /v1/clusters/<name>/offline  leave it and wait
//   POST   /v1/clusters/<name>/move {"deadline_ms"?}   move there (a node online elsewhere)
//   POST   /v1/join-token               a new one-time join token for `cohort node define`
//   POST   /v1/dcm/define               a defining member's sealed message (define_wire.h);
//                                       the join token is its authorization, not the API token
//   POST   /v1/dcm/control              a member's `node online|offline` for this node, sealed
//                                       under the cluster's key (dcm/node_control.h)
#pragma once

#include <functional>
#include <string>

#include "api/handlers.h"
#include "base/config.h"

namespace cohort::dcm {
class DefineTarget;
class LocalClusters;
}  // namespace cohort::dcm

namespace cohort::api {

// Handles `r` if `path` is a change above (all but /v1/dcm/define, which needs no API
// token); false otherwise. The caller has checked the API token. `restart` is called once
// the answer to a change that needs the node to start again went out.
bool HandleClusterChange(dcm::LocalClusters clusters, dcm::DefineTarget& target,
                         const HttpRequest& r, const std::string& path, const Respond& respond,
                         const std::function<void()>& restart);

// POST /v1/dcm/define: opens the member's message with the join token's key, answers it
// sealed the same way; `committed` runs after a commit was answered.
void AnswerDefine(dcm::DefineTarget& target, const HttpRequest& r, const Respond& respond,
                  const std::function<void()>& committed);

// POST /v1/dcm/control: answers a member's sealed `node online|offline`; `restart` is called
// once the answer went out, if the node starts again to follow it.
void AnswerControlRequest(const Config& file, dcm::LocalClusters clusters, const HttpRequest& r,
                          const Respond& respond, const std::function<void()>& restart);

}  // namespace cohort::api
