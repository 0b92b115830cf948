// The parts of a media request that need no socket (io/media_server.h): what the target
// names, and the head of the answer. Pure functions, total on any input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "workload/http_range.h"

namespace cohort::io {

// `/media/<path>?session=ID&kbps=K&disk=D`: the path percent-decoded and checked as
// distribution checks one (not in the daemon's own folder); the rest optional.
struct MediaTarget {
  std::string path;
  uint64_t session = 0;
  uint64_t kbps = 0;
  std::string disk;
};
Result<MediaTarget> ParseMediaTarget(std::string_view target);

// By the file's extension; application/octet-stream for any other.
std::string_view ContentTypeOf(std::string_view path);

struct MediaHead {
  int status = 200;    // 200, 206 or 416
  uint64_t first = 0;  // the bytes the body carries
  uint64_t length = 0;
  std::string text;  // the status line and headers, ending with the empty line
};
// The answer to a GET or HEAD of a file of `size` bytes with `range` (already weighed
// against If-Range), its ETag `etag` ("" unknown).
MediaHead MakeMediaHead(const workload::ByteRange& range, uint64_t size, std::string_view path,
                        std::string_view etag, uint64_t session, bool keep_alive);
// A short answer with a body of its own (errors).
std::string MakePlainAnswer(int status, std::string_view reason, std::string_view message,
                            bool keep_alive, std::string_view extra_headers = "");

}  // namespace cohort::io
