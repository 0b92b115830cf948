// A download over HTTP/1.1 (a media stream, W2): one GET whose body goes to a file as it
// comes, from a byte offset (Range) and only if the file is still the version the caller
// has (If-Range). Plain POSIX sockets, as the rest of the CLI's client.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/endpoint.h"
#include "base/result.h"

namespace cohort::io {

struct FetchReply {
  int status = 0;
  std::string etag;                     // "" none
  std::string location;                 // a redirect's
  std::optional<uint64_t> range_start;  // a 206's first byte (Content-Range)
  std::optional<uint64_t> total;        // the whole file's size (Content-Range or -Length)
  uint64_t written = 0;                 // body bytes written to the file
  bool complete = false;                // the whole body came
  std::string ended;                    // how an incomplete body ended
  std::string text;                     // the body of an answer that is not 2xx (≤ 64 KiB)
};

// "http://host:port/path?query" → the server and the target.
Result<std::pair<Endpoint, std::string>> ParseHttpUrl(const std::string& url);

// GET `target` from `server`, asking for bytes from `from` on (none: from 0, no Range) and
// sending If-Range `if_range` when set; a 2xx body is written to `out_fd`. An error only
// if no answer's head came; a body cut short is a reply with `complete` false.
// `timeout_ms` bounds connecting and each wait for bytes; `progress` gets each write.
Result<FetchReply> HttpFetch(const Endpoint& server, const std::string& target, uint64_t from,
                             const std::string& if_range, int out_fd, int timeout_ms,
                             const std::function<void(uint64_t)>& progress = {});

}  // namespace cohort::io
