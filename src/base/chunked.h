// HTTP/1.1 chunked transfer coding (RFC 9112 §7.1), decoded as it arrives: the API's
// streamed answers (JSON lines) reach clients this way. The bytes come from the network:
// sizes are bounded and every delimiter checked. Pure functions.
#pragma once

#include <cstddef>
#include <string>

#include "base/result.h"

namespace cohort {

enum class ChunkStep {
  kMore,   // the next chunk is not complete yet: feed more bytes
  kEnded,  // the last chunk came: the body is complete
};

// Moves every complete chunk at the front of `raw` to the end of `body` (the chunk's size
// line, data and CRLF leave `raw`). A chunk over `max_chunk` bytes, a size line that is not
// hex or over 1 KiB, or data not followed by CRLF is an error (kMalformed).
Result<ChunkStep> DecodeChunks(std::string& raw, std::string& body, size_t max_chunk);

}  // namespace cohort
