// HTTP chunked coding (base/chunked.h), as a group member's client reads the daemon's
// stream: any bytes, fed in two parts at any split, never crash the decoder, never make a
// body larger than what came in, and decode the same as when fed whole.
#include <cstdlib>
#include <string>

#include "base/chunked.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string whole_raw = input, whole_body;
  auto whole = DecodeChunks(whole_raw, whole_body, 4096);
  if (whole_body.size() > input.size()) std::abort();

  const size_t split = data[0] % (input.size() + 1);
  std::string raw = input.substr(0, split), body;
  auto first = DecodeChunks(raw, body, 4096);
  if (!first) return 0;  // refused early: a prefix can already be wrong
  if (*first == ChunkStep::kEnded) return 0;
  raw += input.substr(split);
  auto second = DecodeChunks(raw, body, 4096);
  if (second.has_value() != whole.has_value()) std::abort();
  if (whole && (*second != *whole || body != whole_body)) std::abort();
  return 0;
}
