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
std::string OfflinePrefix(const std::string& id) { return Prefix(id) + "registry/offline/"; }
std::string OfflineKey(const std::string& id, NodeId node) {
  return OfflinePrefix(id) + std::to_string(node);
}
std::string UidKey(const std::string& id, const std::string& uid) {
  return Prefix(id) + "uids/" + uid;
}

registry::Txn ReadIdentity(const std::string& cluster_id, NodeId node, const std::string& uid) {
  registry::Txn t;  // no compares: the reads always run, in one revision
  t.success.push_back({RequestOp::Kind::kGet, NodeKey(cluster_id, node), "", false});
  t.success.push_back({RequestOp::Kind::kGet, UidKey(cluster_id, uid), "", false});
  return t;
}

Result<IdentityRead> ParseIdentity(const registry::TxnResult& r) {
  if (r.results.size() != 2) {
    return Error(Errc::kInternal, "the registry answered a read of two keys with " +
                                      std::to_string(r.results.size()) + " results");
  }
  IdentityRead read;
  if (!r.results[0].kvs.empty()) {
    const registry::KeyValue& kv = r.results[0].kvs[0];
    const json doc = json::parse(kv.value, nullptr, false);
    if (!doc.is_object() || !doc.contains("uid") || !doc["uid"].is_string()) {
      return Error(Errc::kInvalidArgument, kv.key + " holds no uid: " + kv.value);
    }
    read.global_uid = doc["uid"].get<std::string>();
    read.node_revision = kv.mod_revision;
    if (doc.contains("name") && doc["name"].is_string()) read.global_name = doc["name"];
  }
  if (!r.results[1].kvs.empty()) {
    const registry::KeyValue& kv = r.results[1].kvs[0];
    const json doc = json::parse(kv.value, nullptr, false);
    if (!doc.is_object() || !doc.contains("node") || !doc["node"].is_number_unsigned() ||
        doc["node"].get<uint64_t>() == 0 || doc["node"].get<uint64_t>() > 65535) {
      return Error(Errc::kInvalidArgument, kv.key + " names no node: " + kv.value);
    }
    read.claimed_by = doc["node"].get<NodeId>();
    read.claim_revision = kv.mod_revision;
  }
  return read;
}

registry::Txn WriteIdentity(const std::string& cluster_id, NodeId node, const std::string& node_doc,
                            const std::string& uid, const IdentityRead& seen,
                            const std::string& old_uid) {
  registry::Txn t;
  t.compares.push_back({NodeKey(cluster_id, node), Compare::Target::kModRevision,
                        Compare::Op::kEqual, "", seen.node_revision});
  t.compares.push_back({UidKey(cluster_id, uid), Compare::Target::kModRevision, Compare::Op::kEqual,
                        "", seen.claim_revision});
  t.success.push_back({RequestOp::Kind::kPut, NodeKey(cluster_id, node), node_doc, false});
  t.success.push_back(
      {RequestOp::Kind::kPut, UidKey(cluster_id, uid), Document({{"node", node}}), false});
  if (!old_uid.empty() && old_uid != uid) {
    t.success.push_back({RequestOp::Kind::kDelete, UidKey(cluster_id, old_uid), "", false});
  }
  return t;
}

std::string NodesPrefix(const std::string& id) { return Prefix(id) + "nodes/"; }
std::string GroupsPrefix(const std::string& id) { return Prefix(id) + "groups/"; }
std::string ResourcesPrefix(const std::string& id) { return Prefix(id) + "resources/"; }

Result<DefinedNode> ParseNodeDefinition(const registry::KeyValue& kv) {
  const json doc = json::parse(kv.value, nullptr, false);
  const bool ok = doc.is_object() && doc.contains("id") && doc["id"].is_number_unsigned() &&
                  doc["id"].get<uint64_t>() >= 1 && doc["id"].get<uint64_t>() <= 65535 &&
                  doc.contains("uid") && doc["uid"].is_string();
  if (!ok) return Error(Errc::kInvalidArgument, kv.key + ": not a node definition: " + kv.value);
  DefinedNode n;
  n.number = doc["id"].get<NodeId>();
  n.uid = doc["uid"].get<std::string>();
  n.revision = kv.mod_revision;
  if (doc.contains("name") && doc["name"].is_string()) n.name = doc["name"].get<std::string>();
  n.registry_server = doc.contains("registry_server") && doc["registry_server"].is_boolean() &&
                      doc["registry_server"].get<bool>();
  if (doc.contains("pending_until_ms") && doc["pending_until_ms"].is_number_integer()) {
    n.pending_until_ms = doc["pending_until_ms"].get<int64_t>();
  }
  if (doc.contains("api") && doc["api"].is_string()) n.api = doc["api"].get<std::string>();
  return n;
}

std::string NodeDocument(const DefinedNode& n, const std::vector<DiskConfig>& disks) {
  json list = json::array();
  for (const auto& d : disks) list.push_back({{"id", d.id}, {"mount", d.mount}});
  json doc{{"id", n.number},
           {"name", n.name},
           {"uid", n.uid},
           {"registry_server", n.registry_server},
           {"disks", list}};
  if (!n.api.empty()) doc["api"] = n.api;
  if (n.pending_until_ms != 0) doc["pending_until_ms"] = n.pending_until_ms;
  return Document(doc);
}

registry::Txn DefinePending(const std::string& cluster_id, NodeId number, const std::string& doc,
                            const std::string& uid, const std::optional<DefinedNode>& stale,
                            int64_t read_revision) {
  registry::Txn t;
  t.compares.push_back({UidKey(cluster_id, uid), Compare::Target::kModRevision, Compare::Op::kLess,
                        "", read_revision + 1});
  if (stale) {
    t.compares.push_back({NodeKey(cluster_id, stale->number), Compare::Target::kModRevision,
                          Compare::Op::kEqual, "", stale->revision});
  }
  if (!stale || stale->number != number) {
    t.compares.push_back({NodeKey(cluster_id, number), Compare::Target::kCreateRevision,
                          Compare::Op::kEqual, "", 0});
    if (stale) {
      t.success.push_back(
          {RequestOp::Kind::kDelete, NodeKey(cluster_id, stale->number), "", false});
      t.success.push_back(
          {RequestOp::Kind::kDelete, AddressesKey(cluster_id, stale->number), "", false});
    }
  }
  t.success.push_back({RequestOp::Kind::kPut, NodeKey(cluster_id, number), doc, false});
  t.success.push_back(
      {RequestOp::Kind::kPut, UidKey(cluster_id, uid), Document({{"node", number}}), false});
  return t;
}

registry::Txn ConfirmDefinition(const std::string& cluster_id, NodeId number,
                                const std::string& doc, int64_t revision) {
  registry::Txn t;
  t.compares.push_back({NodeKey(cluster_id, number), Compare::Target::kModRevision,
                        Compare::Op::kEqual, "", revision});
  t.success.push_back({RequestOp::Kind::kPut, NodeKey(cluster_id, number), doc, false});
  return t;
}

registry::Txn RemoveNode(const std::string& cluster_id, NodeId node, const std::string& uid,
                         int64_t node_revision) {
  registry::Txn t;
  t.compares.push_back({NodeKey(cluster_id, node), Compare::Target::kModRevision,
                        Compare::Op::kEqual, "", node_revision});
  t.success.push_back({RequestOp::Kind::kDelete, NodeKey(cluster_id, node), "", false});
  t.success.push_back({RequestOp::Kind::kDelete, AddressesKey(cluster_id, node), "", false});
  if (!uid.empty()) {
    t.success.push_back({RequestOp::Kind::kDelete, UidKey(cluster_id, uid), "", false});
  }
  return t;
}

registry::Txn RemoveNodeRecord(const std::string& cluster_id, NodeId node, const NodeRecord& seen) {
  registry::Txn t =
      RemoveNode(cluster_id, node, "", seen.definition ? seen.definition->mod_revision : 0);
  for (const auto& claim : seen.claims) {
    t.compares.push_back(
        {claim.key, Compare::Target::kModRevision, Compare::Op::kEqual, "", claim.mod_revision});
    t.success.push_back({RequestOp::Kind::kDelete, claim.key, "", false});
  }
  return t;
}

registry::Txn ReadNodeRecord(const std::string& cluster_id, NodeId node) {
  registry::Txn t;  // no compares: the reads always run, in one revision
  t.success.push_back({RequestOp::Kind::kGet, NodeKey(cluster_id, node), "", false});
  t.success.push_back({RequestOp::Kind::kGet, UidKey(cluster_id, ""), "", true});
  return t;
}

Result<NodeRecord> ParseNodeRecord(const registry::TxnResult& r, NodeId node) {
  if (r.results.size() != 2) {
    return Error(Errc::kInternal, "the registry answered a read of a node's record with " +
                                      std::to_string(r.results.size()) + " results");
  }
  NodeRecord record;
  if (!r.results[0].kvs.empty()) record.definition = r.results[0].kvs[0];
  for (const auto& kv : r.results[1].kvs) {
    const json doc = json::parse(kv.value, nullptr, false);
    // A claim that does not parse names no one: it is left for an operator to see.
    if (!doc.is_object() || !doc.contains("node") || !doc["node"].is_number_unsigned() ||
        doc["node"].get<uint64_t>() != node) {
      continue;
    }
    record.claims.push_back(kv);
  }
  return record;
}

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

registry::Txn MarkOffline(const std::string& cluster_id, NodeId node,
                          const std::vector<NodeId>& counted) {
  registry::Txn t;
  for (NodeId other : counted) {
    t.compares.push_back(
        {OfflineKey(cluster_id, other), Compare::Target::kVersion, Compare::Op::kEqual, "", 0});
  }
  t.success.push_back(
      {RequestOp::Kind::kPut, OfflineKey(cluster_id, node), Document({{"node", node}}), false});
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
