// Sub-cluster aggregates, representation messages, views sent down and relayed requests
// (M14): the decoders never crash and are canonical (what decodes encodes back to the same
// bytes); with the input split in two, the sum of two aggregates that decode encodes to
// bytes that decode to that same sum.
#include <algorithm>
#include <cstdlib>

#include "hierarchy/aggregate.h"
#include "hierarchy/messages.h"
#include "hierarchy/relay.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  const wire::ByteView all(data, size);
  if (auto a = hierarchy::Decode(all)) {
    const wire::Bytes again = hierarchy::Encode(*a);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  if (auto m = hierarchy::DecodeMessage(all)) {
    const wire::Bytes again = hierarchy::EncodeMessage(*m);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  if (auto v = hierarchy::DecodeView(all)) {
    const wire::Bytes again = hierarchy::EncodeView(*v);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  if (auto r = hierarchy::DecodeRelay(all)) {
    const wire::Bytes again = hierarchy::EncodeRelay(*r);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  if (size < 1) return 0;
  const size_t cut = std::min<size_t>(data[0], size - 1) + 1;
  auto a = hierarchy::Decode(all.subspan(1, cut - 1));
  auto b = hierarchy::Decode(all.subspan(cut));
  if (!a || !b) return 0;
  hierarchy::Aggregate sum = *a;
  hierarchy::Add(sum, *b);
  auto back = hierarchy::Decode(hierarchy::Encode(sum));
  if (!back || !(*back == sum)) std::abort();
  return 0;
}
