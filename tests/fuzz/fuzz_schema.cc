// The registry documents cohort reads back (issue 4): whatever another node, an operator or
// a damaged store left under /cohort/, parsing it never crashes the configuration manager.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dcm/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cohort;
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)dcm::schema::ParseServerList(text);
  registry::TxnResult stored;
  stored.succeeded = false;
  stored.results.push_back({{registry::KeyValue{"/cohort/x/map", text, 1, 7, 1}}, 0});
  (void)dcm::schema::ClusterIdOf(stored, "fresh");
  dcm::schema::VersionedPublisher publisher("/cohort/x/map");
  if (publisher.Next(5, "{}")) publisher.OnResult(stored);
  if (publisher.Next(6, "{}")) publisher.OnResult(stored);
  return 0;
}
