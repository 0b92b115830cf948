// A minimal HTTP/1.1 client: one request per connection to a daemon's API (the CLI, and a
// member defining a node, C7).
// Plain POSIX sockets keep Beast out of the CLI's build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/endpoint.h"
#include "base/result.h"

namespace cohort::io {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Sends the request and reads the whole reply. `timeout_ms` bounds connect and each read;
// `total_ms` (0: none) the whole call, and `max_reply` the reply's size — for a peer that
// is not trusted to answer briefly (a node being defined, C7).
Result<HttpReply> HttpCall(const Endpoint& server, const std::string& method,
                           const std::string& target, const std::string& body = "",
                           const std::string& bearer = "", int timeout_ms = 10000, int total_ms = 0,
                           size_t max_reply = SIZE_MAX);

}  // namespace cohort::io
