// Group Services: the message and record decoders never crash and are canonical; a core
// that coordinates takes any sequence of messages from any sender, registry answers with
// any record bytes, view changes and ticks, without crashing or leaving a deadline in the
// past.
#include <cstdlib>

#include "groups/core.h"

namespace {

using namespace cohort;
using namespace cohort::groups;

void ExpectCanonical(const uint8_t* data, size_t size) {
  if (auto m = Decode(ByteView(data, size))) {
    const Bytes again = Encode(*m);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
  if (auto r = DecodeRecord(ByteView(data, size))) {
    const Bytes again = EncodeRecord(*r);
    if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ExpectCanonical(data, size);
  GroupsOptions o;
  o.self = 1;
  o.incarnation = 100;
  GroupsCore core(o);
  const NodeView up{{1, 100}, {2, 200}, {3, 300}};
  Outputs out;
  Instant now = Instant::FromNanos(1'000'000'000);
  core.SetView(now, 1, up, out);
  uint64_t ticket = 0;
  int64_t revision = 1;
  size_t pos = 0;
  while (pos + 3 <= size) {
    const uint8_t what = data[pos];
    const size_t len = std::min<size_t>(size - pos - 3, data[pos + 2] & 127);
    const ByteView bytes(data + pos + 3, len);
    // The tickets the core asked with, so its answers are taken, and hostile bytes with them.
    for (const Output& x : out) {
      if (auto* r = std::get_if<ReadRecords>(&x)) ticket = r->ticket;
      if (auto* w = std::get_if<WriteRecord>(&x)) ticket = w->ticket;
    }
    out.clear();
    switch (what & 7) {
      case 0:
        core.OnRecords(
            now, ticket,
            std::vector<StoredRecord>{{"g", ++revision, Bytes(bytes.begin(), bytes.end())}}, out);
        break;
      case 1:
        core.OnWritten(now, "g", ticket,
                       WriteResult{static_cast<WriteStatus>(data[pos + 1] % 3), ++revision,
                                   StoredRecord{"g", revision, Bytes(bytes.begin(), bytes.end())}},
                       out);
        break;
      case 2:
        core.SetView(now, 1 + (data[pos + 1] & 1), NodeView{{1, 100}, {2, 200}}, out);
        break;
      case 3:
        core.Join(now, data[pos + 1], "g", Role::kProvider, true, {}, out);
        break;
      default:
        core.OnMessage(now, static_cast<NodeId>(1 + (data[pos + 1] & 3)), bytes, out);
        break;
    }
    pos += 3 + len;
    now = now + Duration::Millis(data[pos - 1] % 200);
    for (int i = 0; i < 4 && now >= core.NextDeadline(); ++i) core.Tick(now, out);
    if (core.NextDeadline() < now) std::abort();
    (void)core.Led();
    (void)core.Delivered();
  }
  return 0;
}
