// The resource manager's records (resources/records.h): whatever an operator, another node or
// a damaged store left under the resources prefix, decoding it never crashes the daemon, and
// a definition or an inventory that decodes is one that encodes back to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "resources/ocf_metadata.h"
#include "resources/records.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort::resources;
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (auto spec = ParseSpec(text)) {
    auto again = ParseSpec(EncodeSpec(*spec));
    if (!again || EncodeSpec(*again) != EncodeSpec(*spec)) std::abort();
  }
  (void)ParsePlaced(text);
  (void)ParseOwner(text);
  (void)ParseStatus(text);
  if (auto alive = ParseAlive(text)) {
    auto again = ParseAlive(EncodeAlive(*alive));
    if (!again || again->node != alive->node || again->taken_by != alive->taken_by ||
        again->ttl_ms != alive->ttl_ms) {
      std::abort();
    }
  }
  if (auto metadata = ParseOcfMetadata(text)) {
    ResourceSpec spec;
    spec.params["ip"] = "10.0.0.1";
    (void)CheckParameters(spec, *metadata);
  }
  if (auto inventory = ParseInventory(text)) {
    auto again = ParseInventory(EncodeInventory(*inventory));
    if (!again || !(*again == *inventory)) std::abort();
  }
  if (auto key = ParseKey(text)) {
    if (KeyOf(*key) != text) std::abort();
  }
  return 0;
}
