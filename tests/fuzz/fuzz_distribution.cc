// Data-plane message decoder (distribution/messages.h): never crashes, and whatever it
// accepts re-encodes to the same bytes.
#include <algorithm>
#include <cstdlib>

#include "distribution/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::distribution;
  auto m = Decode(cohort::wire::ByteView(data, size));
  if (!m) return 0;
  const cohort::wire::Bytes again = Encode(*m);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  return 0;
}
