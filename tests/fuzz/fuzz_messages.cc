// Transport message decoder: never crashes, and whatever it accepts re-encodes to the same
// bytes (the encoding is canonical, so digests computed from it are stable).
#include <cstdlib>

#include "transport/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::transport;
  auto m = Decode(ByteView(data, size));
  if (!m) return 0;
  const Bytes again = Encode(*m);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  return 0;
}
