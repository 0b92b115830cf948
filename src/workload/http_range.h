// The Range header of a stream request (RFC 9110 §14): which bytes of a file of `size`
// bytes a player asks for. Pure; decoding is total (any input gives a result).
//
// One range is served: `bytes=first-last`, `bytes=first-` and the suffix form `bytes=-n`.
// Anything else — another unit, several ranges, a malformed or overflowing value — is
// ignored, and the whole file is served, as the RFC allows. A range that starts at or past
// the end (or an empty suffix) cannot be satisfied: 416 with the file's size.
#pragma once

#include <cstdint>
#include <string_view>

namespace cohort::workload {

struct ByteRange {
  enum class Kind : uint8_t {
    kWhole,          // no usable Range header: 200, the whole file
    kPartial,        // 206, bytes first..last (inclusive)
    kUnsatisfiable,  // 416, Content-Range: bytes */size
  };
  Kind kind = Kind::kWhole;
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive; meaningful for kPartial
  uint64_t length() const { return kind == Kind::kPartial ? last - first + 1 : 0; }
};

ByteRange ParseRange(std::string_view header, uint64_t size);

}  // namespace cohort::workload
