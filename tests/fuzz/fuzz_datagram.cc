// The whole receive path of TransportCore: the input is cut into pieces, each sealed with
// the cluster key as if from node 2 (so the fuzzer reaches message handling, fragment
// reassembly and replies, not just the tag check), plus raw unsealed pieces.
#include "transport/core.h"

namespace {

using namespace cohort;
using namespace cohort::transport;

wire::Keyring Ring() {
  wire::Keyring r;
  wire::Key k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 3);
  r.Install(k);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const wire::Keyring ring = Ring();
  TransportOptions o;
  o.self = 1;
  o.adapters.push_back({AddressInfo{Endpoint{0x0a000001, 7000}, 0xffffff00, 1500}, true});
  o.adapters.push_back({AddressInfo{Endpoint{0x0b000001, 7000}, 0xffffff00, 1500}, true});
  o.seeds.push_back(Endpoint{0x0a000002, 7000});
  TransportCore core(o, ring, 1);
  Outputs out;
  Instant now = Instant::FromNanos(1'000'000'000);
  core.Start(now, out);
  uint64_t seq = 1;
  size_t pos = 0;
  while (pos < size) {
    const uint8_t control = data[pos++];
    const size_t len = std::min<size_t>(size - pos, static_cast<size_t>(control & 0x7f) * 4);
    ByteView piece(data + pos, len);
    pos += len;
    const Endpoint from{(control & 1) ? 0x0a000002u : 0x0b000002u, 7000};
    if (control & 0x80) {
      core.OnDatagram(now, 0, from, piece, out);
    } else {
      wire::SealHeader h{0, 2, 5, seq++};
      core.OnDatagram(now, control & 1, from, wire::Seal(ring, h, piece), out);
    }
    now = now + Duration::Millis(control % 50);
    if (now >= core.NextDeadline()) core.Tick(now, out);
    out.clear();
  }
  return 0;
}
