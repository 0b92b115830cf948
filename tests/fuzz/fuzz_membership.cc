// Membership messages: the decoder never crashes and is canonical; the core takes any
// sequence of messages from any sender, interleaved with ticks, without crashing or
// violating its CHECKs.
#include <cstdlib>

#include "membership/core.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  using namespace cohort::membership;
  if (auto m = Decode(ByteView(data, size))) {
    const Bytes again = Encode(*m);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  MembershipOptions o;
  o.self = 2;
  o.priority = {1, 2, 3};
  o.disks = {"d1", "d2"};
  MembershipCore core(o, 7);
  Outputs out;
  Instant now = Instant::FromNanos(1'000'000'000);
  core.Start(now, out);
  size_t pos = 0;
  while (pos + 2 <= size) {
    const uint8_t from = data[pos] & 7;
    const size_t len = std::min<size_t>(size - pos - 2, data[pos + 1] & 63);
    if (from == kNoNode) {
      // Sender 0 stands for the driver: disk check results and usage requests.
      switch (len & 3) {
        case 0:
        case 1:
          core.OnDiskCheck(now, (len & 4) ? "d1" : "d2", len & 1, out);
          break;
        case 2:
          core.SetUsage(now, NodeUsage{static_cast<uint32_t>(len), len, len, 0, {}});
          break;
        case 3:
          core.RequestUsage(now, len, out);
          break;
      }
    } else {
      core.OnMessage(now, from, ByteView(data + pos + 2, len), out);
    }
    pos += 2 + len;
    now = now + Duration::Millis(data[pos - 1] % 150);
    // Timers must advance: a few ticks at one instant leave no deadline in the past.
    for (int i = 0; i < 4 && now >= core.NextDeadline(); ++i) core.Tick(now, out);
    if (core.NextDeadline() < now) std::abort();
    out.clear();
  }
  return 0;
}
