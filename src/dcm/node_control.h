// Starting, stopping and renaming a node from any member of its cluster (C6: `cohort node
// online|offline|modify N`, RSCT's startrpnode/stoprpnode). For online and offline the
// member reads node N's API address from N's definition in the registry (every node
// publishes its own), seals a kOnline or kOffline DefineMessage under the cluster's control
// key (define_wire.h) and posts it to /v1/dcm/control there. The node — running, or offline
// and waiting, for it keeps its clusters' keys — opens it with the keys of the clusters it
// is defined to, checks that it names this node and is fresh (sent within a minute of the
// node's clock, and after the last one it took: local.json control_ms), and acts as
// `cluster online|offline` run on it would. The sender's side is Dcm::SetNodeOnline.
#pragma once

#include <string>
#include <string_view>

#include "base/config.h"
#include "base/result.h"
#include "dcm/clusters.h"

namespace cohort::dcm {

// How far a control message's send time may be from the receiver's clock.
inline constexpr int64_t kControlWindowMs = 60'000;

struct ControlReply {
  std::string sealed;    // the answer, sealed under the key the message opened with
  bool restart = false;  // the node starts again to follow it
};

// The answer to `sealed`; an error (unsealed) when it opens with no key of this node's.
// `file` is the node's config file, `clusters` its local configuration's operations.
Result<ControlReply> AnswerControl(const Config& file, LocalClusters& clusters,
                                   std::string_view sealed, int64_t now_ms);

}  // namespace cohort::dcm
