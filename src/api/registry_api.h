// The System Registry over HTTP (issue 4; INTERFACE.md `cohort registry ...`), served by
// every node through its configuration manager's registry client:
//   GET    /v1/registry/status                     phase, leader, servers, term, commit index
//   GET    /v1/registry/kv?key=K[&consistency=local]       {"key", "value", "revision"}
//   PUT    /v1/registry/kv?key=K   {"value": V}     answers once the write is committed
//   DELETE /v1/registry/kv?key=K                    {"key", "deleted"}
//   GET    /v1/registry/list?prefix=P[&limit=N][&consistency=local]   {"items": [...]}
//   GET    /v1/registry/watch?prefix=P[&index=N][&timeout_ms=T]
//          long-poll: the changes from revision N on (0: from now), or none after T
//   GET    /v1/registry/watch?prefix=P&stream=1[&index=N]
//          streaming: one JSON event per line as changes commit, until the client leaves
//   GET    /v1/registry/servers                    the registry's members (learners flagged)
//   POST   /v1/registry/servers {"id", "client", "peer"}   define a server (C6)
//   DELETE /v1/registry/servers/<id>               undefine it
//   POST   /v1/registry/servers/<id>/offline|online   stop it (data kept) or start it again
//   POST   /v1/registry/snapshot                   the whole store, etcd's snapshot format
// "local" reads are served by the nearest server even while the registry is read-only.
#pragma once

#include <string>

#include "api/handlers.h"
#include "base/url.h"

namespace cohort::dcm {
class Dcm;
}

namespace cohort::api {

// Handles `r` if `path` is under /v1/registry/; false otherwise. Writes must have been
// authorized by the caller.
bool HandleRegistry(dcm::Dcm* dcm, const HttpRequest& r, const std::string& path,
                    const Respond& respond);

// The query parameter `name` as a number in [lo, hi]; `fallback` if absent.
Result<int64_t> NumberParam(const std::string& target, const std::string& name, int64_t fallback,
                            int64_t lo, int64_t hi);

}  // namespace cohort::api
