// The workload's messages (workload/messages.h): whatever a peer sends decodes to nothing or
// to a message that encodes back to the same bytes, so nothing is read that was not sent.
#include <cstdlib>

#include "workload/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::workload;
  const cohort::wire::ByteView in(data, size);
  const auto m = Decode(in);
  if (!m) return 0;
  const cohort::wire::Bytes again = Encode(*m);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  const auto back = Decode(again);
  if (!back || !(*back == *m)) std::abort();
  return 0;
}
