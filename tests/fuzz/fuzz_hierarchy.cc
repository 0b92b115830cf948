// Sub-cluster aggregates (M14): the decoder never crashes and is canonical (what decodes
// encodes back to the same bytes), and an aggregate that decodes adds into another without
// breaking what the decoder demands.
#include <cstdlib>

#include "hierarchy/aggregate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  auto a = hierarchy::Decode(wire::ByteView(data, size));
  if (!a) return 0;
  const wire::Bytes again = hierarchy::Encode(*a);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  hierarchy::Aggregate sum = *a;
  hierarchy::Add(sum, *a);
  if (sum.members_up > sum.members || sum.free_mbps > sum.capacity_mbps) std::abort();
  if (sum.disks.size() != a->disks.size()) std::abort();
  return 0;
}
