// The media workload over HTTP (W1, W2; README "Streams", docs/design/streams.md).
//   GET /v1/content[?prefix=&after=&node=&limit=]   the catalog, a page of paths in order
//                                                   with every copy and its state
//   GET /v1/content/where?path=P                    the copies of one path: state, rank,
//                                                   each holder's load and capacity
//   GET /v1/streams/<path>[?bitrate_kbps=&session=&offset=&avoid=]
//                                                   a session placed by the supervisor:
//                                                   302 to the chosen node's stream URL
//                                                   (200 with the same JSON for
//                                                   Accept: application/json); 404 for
//                                                   content nobody holds; 503 with
//                                                   Retry-After when no holder has room
//   GET /v1/streams[?node=N]                        sessions and each node's load
// Reads, open to every client as the streams themselves are; the placement is answered
// by the supervisor, wherever the request comes in.
#pragma once

#include <string>

#include "api/handlers.h"

namespace cohort::api {

bool HandleStreams(node::WorkloadService* workload, const HttpRequest& r, const std::string& path,
                   const Respond& respond);

// The Prometheus lines of the workload on this node.
std::string StreamsMetrics(const node::WorkloadService& workload, const io::MediaServer* media);

}  // namespace cohort::api
