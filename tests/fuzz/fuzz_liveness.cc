// Liveness messages: the decoder never crashes and is canonical; the core takes any sequence
// of messages from any sender on any path, interleaved with ticks and adapter changes,
// without crashing or leaving a deadline in the past.
#include <cstdlib>

#include "liveness/core.h"

namespace {

cohort::Endpoint Ep(int net, int node) {
  return cohort::Endpoint{0x0a000000u | (uint32_t(net) << 16) | uint32_t(node), 7000};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  using namespace cohort::liveness;
  if (auto m = Decode(ByteView(data, size))) {
    const Bytes again = Encode(*m);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  LivenessOptions o;
  o.self = 2;
  o.incarnation = 5;
  LivenessCore core(o);
  std::vector<Adapter> farm;
  for (int k = 1; k <= 4; ++k) {
    for (int n = 1; n <= 2; ++n) farm.push_back({NodeId(k), Ep(n, k), "n" + std::to_string(n)});
  }
  Outputs out;
  Instant now = Instant::FromNanos(1'000'000'000);
  core.SetAdapters(now, farm, out);
  size_t pos = 0;
  while (pos + 3 <= size) {
    const uint8_t from = data[pos] & 7;  // 0: the driver; 5..7: nodes not in the farm
    const uint8_t path = data[pos + 1];
    const size_t len = std::min<size_t>(size - pos - 3, data[pos + 2] & 127);
    if (from == kNoNode) {
      // A node leaves or comes back (the address table changed).
      std::vector<Adapter> now_farm;
      for (const Adapter& a : farm) {
        if (a.node != 1 + (path & 3) || a.node == o.self) now_farm.push_back(a);
      }
      core.SetAdapters(now, now_farm, out);
    } else {
      core.OnMessage(now, from, Ep(1 + (path & 1), 2), Ep(1 + ((path >> 1) & 1), (path >> 2) & 7),
                     ByteView(data + pos + 3, len), out);
    }
    pos += 3 + len;
    now = now + Duration::Millis(data[pos - 1] % 150);
    for (int i = 0; i < 4 && now >= core.NextDeadline(); ++i) core.Tick(now, out);
    if (core.NextDeadline() < now) std::abort();
    (void)core.View();
    out.clear();
  }
  return 0;
}
