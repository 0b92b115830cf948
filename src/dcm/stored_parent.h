// M14, defined at run time: the levels above a node's cluster set by `cohort cluster parent
// set` (PUT /v1/cluster/parent), kept in the node's local storage (data_dir/parent.json:
// the cluster it is for, and its [cluster.parent] TOML as given) and taken at every start in
// place of the file's [cluster.parent] while the node runs in that cluster. The TOML is
// checked by the same reader as the file's (base/config.h ParseParents).
#pragma once

#include <string>

#include "base/config.h"
#include "base/result.h"

namespace cohort::dcm {

// Checks `toml` against the node's `running` config and keeps it for its cluster; the node
// follows it at its next start. The levels it defines.
Result<std::vector<ParentConfig>> StoreParent(const Config& running, const std::string& toml);
// Forgets the stored parent: the node's file decides again at its next start. False when
// none was stored.
Result<bool> ForgetParent(const std::string& data_dir);
// At start: the stored parent, when it is for `c`'s cluster (by name), replaces c.parents.
// One that no longer passes the checks (the node's file changed) is logged and left out;
// only a damaged file is an error.
Status ApplyStoredParent(Config& c);

}  // namespace cohort::dcm
