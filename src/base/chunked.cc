#include "base/chunked.h"

#include "base/text.h"

namespace cohort {
namespace {

constexpr size_t kMaxSizeLine = 1024;

}  // namespace

Result<ChunkStep> DecodeChunks(std::string& raw, std::string& body, size_t max_chunk) {
  while (true) {
    const size_t line_end = raw.find("\r\n");
    if (line_end == std::string::npos) {
      if (raw.size() > kMaxSizeLine) return Error(Errc::kMalformed, "a chunk size line over 1 KiB");
      return ChunkStep::kMore;
    }
    if (line_end > kMaxSizeLine) return Error(Errc::kMalformed, "a chunk size line over 1 KiB");
    // The size in hex, then optional extensions after ';' (ignored).
    size_t size = 0, digits = 0;
    for (; digits < line_end && HexDigitValue(raw[digits]) >= 0; ++digits) {
      size = size * 16 + static_cast<size_t>(HexDigitValue(raw[digits]));
      if (size > max_chunk) {
        return Error(Errc::kMalformed, "a chunk over " + std::to_string(max_chunk) + " bytes");
      }
    }
    if (digits == 0 || (digits < line_end && raw[digits] != ';' && raw[digits] != ' ')) {
      return Error(Errc::kMalformed, "a chunk size that is not hex");
    }
    const size_t data = line_end + 2;
    if (size == 0) {
      // The last chunk; trailer fields, if any, are not read.
      raw.erase(0, data);
      return ChunkStep::kEnded;
    }
    if (raw.size() < data + size + 2) return ChunkStep::kMore;
    if (raw.compare(data + size, 2, "\r\n") != 0) {
      return Error(Errc::kMalformed, "a chunk's data not followed by CRLF");
    }
    body.append(raw, data, size);
    raw.erase(0, data + size + 2);
  }
}

}  // namespace cohort
