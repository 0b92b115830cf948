#include "dcm/schema.h"

namespace cohort::dcm::schema {

using nlohmann::json;
using registry::Compare;
using registry::RequestOp;

std::string ClusterNameKey(const std::string& name) { return "/cohort/clusters/" + name; }
std::string Prefix(const std::string& cluster_id) { return "/cohort/" + cluster_id + "/"; }
std::string ClusterKey(const std::string& id) { return Prefix(id) + "cluster"; }
std::string NodeKey(const std::string& id, NodeId node) {
  return Prefix(id) + "nodes/" + std::to_string(node);
}
std::string AddressesKey(const std::string& id, NodeId node) {
  return Prefix(id) + "addresses/" + std::to_string(node);
}
std::string ServersKey(const std::string& id) { return Prefix(id) + "registry/servers"; }
std::string PrimaryKey(const std::string& id) { return Prefix(id) + "registry/primary"; }
std::string MapKey(const std::string& id) { return Prefix(id) + "map"; }

std::string ServerListDocument(const std::vector<RegistryServerConfig>& servers) {
  json list = json::array();
  for (const auto& s : servers) {
    list.push_back({{"id", s.id}, {"client", s.client.ToString()}, {"peer", s.peer.ToString()}});
  }
  return Document({{"servers", list}});
}

Result<std::vector<RegistryServerConfig>> ParseServerList(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("servers") || !doc["servers"].is_array()) {
    return Error(Errc::kInvalidArgument, "not a registry server list: " + text);
  }
  std::vector<RegistryServerConfig> out;
  for (const json& s : doc["servers"]) {
    if (!s.is_object() || !s.contains("id") || !s["id"].is_number_unsigned() ||
        s["id"].get<uint64_t>() == 0 || s["id"].get<uint64_t>() > 65535) {
      return Error(Errc::kInvalidArgument, "bad registry server entry: " + s.dump());
    }
    auto field = [&](const char* k) {
      return s.contains(k) && s[k].is_string() ? s[k].get<std::string>() : std::string();
    };
    auto client = Endpoint::Parse(field("client"));
    auto peer = Endpoint::Parse(field("peer"));
    if (!client || !peer) return Error(Errc::kInvalidArgument, "bad addresses in " + s.dump());
    out.push_back({s["id"].get<NodeId>(), *client, *peer});
  }
  return out;
}

registry::Txn CreateServerList(const std::string& cluster_id,
                               const std::vector<RegistryServerConfig>& servers) {
  registry::Txn t;
  t.compares.push_back(
      {ServersKey(cluster_id), Compare::Target::kCreateRevision, Compare::Op::kEqual, "", 0});
  t.success.push_back(
      {RequestOp::Kind::kPut, ServersKey(cluster_id), ServerListDocument(servers), false});
  return t;
}

registry::Txn ReplaceServerList(const std::string& cluster_id,
                                const std::vector<RegistryServerConfig>& servers,
                                int64_t mod_revision) {
  registry::Txn t;
  t.compares.push_back({ServersKey(cluster_id), Compare::Target::kModRevision, Compare::Op::kEqual,
                        "", mod_revision});
  t.success.push_back(
      {RequestOp::Kind::kPut, ServersKey(cluster_id), ServerListDocument(servers), false});
  return t;
}

std::string Document(json body) {
  body["schema"] = kVersion;
  return body.dump();
}

registry::Txn DefineCluster(const std::string& name, const std::string& new_id) {
  const std::string definition = Document({{"name", name}, {"id", new_id}});
  registry::Txn t;
  t.compares.push_back(
      {ClusterNameKey(name), Compare::Target::kCreateRevision, Compare::Op::kEqual, "", 0});
  t.success.push_back({RequestOp::Kind::kPut, ClusterNameKey(name), definition, false});
  t.success.push_back({RequestOp::Kind::kPut, ClusterKey(new_id), definition, false});
  t.failure.push_back({RequestOp::Kind::kGet, ClusterNameKey(name), "", false});
  return t;
}

Result<std::string> ClusterIdOf(const registry::TxnResult& r, const std::string& new_id) {
  if (r.succeeded) return new_id;
  if (r.results.empty() || r.results[0].kvs.empty()) {
    return Error(Errc::kInternal, "the registry answered a cluster definition without it");
  }
  const json doc = json::parse(r.results[0].kvs[0].value, nullptr, false);
  if (!doc.is_object() || !doc.contains("id") || !doc["id"].is_string()) {
    return Error(Errc::kInvalidArgument,
                 r.results[0].kvs[0].key + " holds no cluster id: " + r.results[0].kvs[0].value);
  }
  return doc["id"].get<std::string>();
}

std::optional<registry::Txn> VersionedPublisher::Next(uint64_t version, const std::string& doc) {
  if (in_flight_ || version <= published_) return std::nullopt;
  in_flight_ = true;
  pending_ = version;
  registry::Txn t;
  t.compares.push_back(
      {key_, Compare::Target::kModRevision, Compare::Op::kEqual, "", seen_revision_});
  t.success.push_back({RequestOp::Kind::kPut, key_, doc, false});
  t.failure.push_back({RequestOp::Kind::kGet, key_, "", false});
  return t;
}

void VersionedPublisher::OnResult(const Result<registry::TxnResult>& r) {
  in_flight_ = false;
  if (!r) return;  // unreachable or read-only: the next Next() tries again
  if (r->succeeded) {
    seen_revision_ = r->revision;
    published_ = std::max(published_, pending_);
    return;
  }
  // Someone else wrote since we last looked: adopt their revision, and stand back if their
  // document is at least as new as ours.
  if (r->results.empty() || r->results[0].kvs.empty()) {
    seen_revision_ = 0;  // deleted meanwhile
    return;
  }
  const registry::KeyValue& kv = r->results[0].kvs[0];
  seen_revision_ = kv.mod_revision;
  const json doc = json::parse(kv.value, nullptr, false);
  const uint64_t theirs =
      doc.is_object() && doc.contains("version") && doc["version"].is_number_unsigned()
          ? doc["version"].get<uint64_t>()
          : 0;
  if (theirs >= pending_) {
    published_ = std::max(published_, theirs);
    ++refused_;
  }
}

}  // namespace cohort::dcm::schema
