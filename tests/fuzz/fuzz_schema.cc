// The registry documents cohort reads back (issue 4): whatever another node, an operator or
// a damaged store left under /cohort/, parsing it never crashes the configuration manager;
// nor does whatever reaches a node waiting to be defined (dcm/define_wire.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "dcm/define_wire.h"
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
  // Node definitions and their claims (C4, C8), and the definition channel's messages (C7),
  // as JSON and as sealed bytes.
  (void)dcm::schema::ParseNodeDefinition(registry::KeyValue{"/cohort/x/nodes/1", text, 1, 7, 1});
  registry::TxnResult identity;
  identity.results.push_back({{registry::KeyValue{"/cohort/x/nodes/1", text, 1, 7, 1}}, 0});
  identity.results.push_back({{registry::KeyValue{"/cohort/x/uids/u", text, 1, 8, 1}}, 0});
  (void)dcm::schema::ParseIdentity(identity);
  (void)dcm::ParseDefineMessage(text);
  (void)dcm::ParseDefineAnswer(text);
  static const wire::Key key = dcm::JoinKey("fuzz");
  (void)dcm::OpenDefine(key, text);
  (void)dcm::OpenAnswer(key, text);
  return 0;
}
