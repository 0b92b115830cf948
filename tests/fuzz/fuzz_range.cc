// The Range header of a stream request (workload/http_range.h): any header and any file size
// give a range inside the file, or none, never one past its end or upside down.
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "workload/http_range.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::workload;
  if (size < 8) return 0;
  uint64_t file_size = 0;
  std::memcpy(&file_size, data, 8);
  file_size %= uint64_t{1} << 62;
  if (data[0] & 1) file_size %= 4096;  // small files too, where the edges are
  const std::string_view header(reinterpret_cast<const char*>(data) + 8, size - 8);
  const ByteRange r = ParseRange(header, file_size);
  if (r.kind == ByteRange::Kind::kPartial) {
    if (r.first > r.last || r.last >= file_size) std::abort();
    if (r.length() != r.last - r.first + 1) std::abort();
  } else if (r.length() != 0) {
    std::abort();
  }
  return 0;
}
