// Sealed datagram opener: any bytes either open or are rejected with a reason.
#include "wire/seal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::wire;
  static const Keyring ring = [] {
    Keyring r;
    Key k{};
    for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i);
    r.Install(k);
    return r;
  }();
  auto result = Open(ring, ByteView(data, size));
  if (auto* o = std::get_if<Opened>(&result)) {
    if (o->payload.size() + kSealOverhead != size) __builtin_trap();
  }
  return 0;
}
