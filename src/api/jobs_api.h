// Distribution jobs and CTP over HTTP (issue 5; INTERFACE.md `cohort distribute`, `cohort
// job ...`, `cohort ctp ...`), served by every node as a base server:
//   POST /v1/jobs  {"paths": [...], "dest": DIR, "servers": "all" | [ids]}   a new job (D1)
//   GET  /v1/jobs                     {"jobs": [job documents]}
//   GET  /v1/jobs/<id>                the job document: state, servers, commands
//   POST /v1/jobs/<id>/end            D11: no more commands; stops repairs of a failed job
//   GET  /v1/ctp?node=N&op=ls|stat|get&path=P[&recursive=1][&offset=O]
//   POST /v1/ctp  {"node", "op": "put"|"mkdir"|"rm"|"chmod", "path", "mode", "mtime_ns",
//                  "recursive", "data_base64"}
#pragma once

#include <string>

#include "api/handlers.h"

namespace cohort::node {
class Distributor;
}

namespace cohort::api {

// Handles `r` if `path` is under /v1/jobs or /v1/ctp; false otherwise. Writes must have been
// authorized by the caller.
bool HandleJobs(node::Distributor* distributor, const HttpRequest& r, const std::string& path,
                const Respond& respond);

}  // namespace cohort::api
