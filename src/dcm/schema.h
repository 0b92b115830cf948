// cohort's global configuration in the registry (issue 4; SPEC R4), as versioned JSON
// documents ({"schema": 1, ...}) under one prefix per cluster:
//   /cohort/clusters/<name>                 {"schema", "name", "id"}: the name's current id
//   /cohort/<id>/cluster                    the cluster definition (C3)
//   /cohort/<id>/nodes/<node>               node definitions (C4): number, name, uid, disks
//   /cohort/<id>/uids/<uid>                 {"node"}: the node number that machine is (C8)
//   /cohort/<id>/addresses/<node>           the address table: each node's adapters (T1)
//   /cohort/<id>/registry/servers           the registry server list (C5, C6)
//   /cohort/<id>/registry/primary           the registry leader's node, as last seen
//   /cohort/<id>/registry/offline/<node>    a registry server taken offline (C6)
//   /cohort/<id>/map                        the cluster map, published by the supervisor
// The first node to reach a registry without the cluster's name defines it with a new id;
// every other node adopts that id. The supervisor publishes the map by compare-and-swap, so
// a stale supervisor can never overwrite a newer map.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/config.h"
#include "base/ids.h"
#include "dcm/define_protocol.h"
#include "registry/backend.h"

namespace cohort::dcm::schema {

inline constexpr int kVersion = 1;

std::string ClusterNameKey(const std::string& name);
std::string Prefix(const std::string& cluster_id);
std::string ClusterKey(const std::string& cluster_id);
std::string NodeKey(const std::string& cluster_id, NodeId node);
std::string AddressesKey(const std::string& cluster_id, NodeId node);
std::string ServersKey(const std::string& cluster_id);
std::string PrimaryKey(const std::string& cluster_id);
std::string MapKey(const std::string& cluster_id);
std::string UidKey(const std::string& cluster_id, const std::string& uid);
// {"node"}: node's registry server is offline (C6), its data kept until it is online again.
std::string OfflineKey(const std::string& cluster_id, NodeId node);
std::string OfflinePrefix(const std::string& cluster_id);
// C6: marks `node`'s server offline only while none of `counted` (the other servers the
// majority check counted as answering) has been marked meanwhile, so two offline requests
// at once cannot both pass the check and leave no majority.
registry::Txn MarkOffline(const std::string& cluster_id, NodeId node,
                          const std::vector<NodeId>& counted);

// C4/C8: a node's definition and its UID's claim, read in one revision.
struct IdentityRead {
  std::optional<std::string> global_uid;  // the definition's uid; nothing: not defined
  std::string global_name;                // its name, as `node modify` may have changed it
  int64_t node_revision = 0;              // its mod revision (0: absent)
  std::optional<NodeId> claimed_by;       // the node the UID's claim names; nothing: none
  int64_t claim_revision = 0;
};
registry::Txn ReadIdentity(const std::string& cluster_id, NodeId node, const std::string& uid);
Result<IdentityRead> ParseIdentity(const registry::TxnResult& r);
// Writes the node's definition `node_doc` and the claim of its `uid`, releasing the claim of
// `old_uid` (a replaced UID) — only if the definition and the claim are still as `seen`.
registry::Txn WriteIdentity(const std::string& cluster_id, NodeId node, const std::string& node_doc,
                            const std::string& uid, const IdentityRead& seen,
                            const std::string& old_uid);
// A node definition as stored: {"id", "name", "uid", "registry_server", "disks"}, and
// "pending_until_ms" while a definition (C7) is not confirmed yet.
Result<DefinedNode> ParseNodeDefinition(const registry::KeyValue& kv);
// A node definition's document: the fields of `n` (pending_until_ms only when pending) and
// the disks it checks.
std::string NodeDocument(const DefinedNode& n, const std::vector<DiskConfig>& disks);
std::string NodesPrefix(const std::string& cluster_id);
// G1: one key per group, named by it, holding its record (groups/types.h).
std::string GroupsPrefix(const std::string& cluster_id);
// RM1/M13: the resource manager's records (resources/records.h).
std::string ResourcesPrefix(const std::string& cluster_id);
// C7 step 8: node `number`'s definition `doc` (pending), its UID's claim, replacing the
// `stale` definition of the same UID; only if the number is still free (or is the stale one)
// and the claim has not changed since the definitions were read at `read_revision`.
registry::Txn DefinePending(const std::string& cluster_id, NodeId number, const std::string& doc,
                            const std::string& uid, const std::optional<DefinedNode>& stale,
                            int64_t read_revision);
// The definition at `revision` replaced by `doc` (confirmed), if it is still at `revision`.
registry::Txn ConfirmDefinition(const std::string& cluster_id, NodeId number,
                                const std::string& doc, int64_t revision);

// Removes a node's definition, addresses and claim, if the definition is still at
// `node_revision` (C6 node undefine).
registry::Txn RemoveNode(const std::string& cluster_id, NodeId node, const std::string& uid,
                         int64_t node_revision);

// C6 node undefine: a node's definition and every UID claim that names it, read in one
// revision, so an undefine removes the claims even of a definition that does not parse.
struct NodeRecord {
  std::optional<registry::KeyValue> definition;
  std::vector<registry::KeyValue> claims;  // the claims naming the node
};
registry::Txn ReadNodeRecord(const std::string& cluster_id, NodeId node);
Result<NodeRecord> ParseNodeRecord(const registry::TxnResult& r, NodeId node);
// Removes the record's definition, the node's addresses and the record's claims, if none
// of them changed since it was read.
registry::Txn RemoveNodeRecord(const std::string& cluster_id, NodeId node, const NodeRecord& seen);

// Defines the cluster `name` with `new_id` unless the name is already defined; either way
// the transaction's answer names the id in force (ClusterIdOf).
registry::Txn DefineCluster(const std::string& name, const std::string& new_id);
Result<std::string> ClusterIdOf(const registry::TxnResult& r, const std::string& new_id);

// The registry server list: {"servers": [{"id", "client", "peer"}]}.
std::string ServerListDocument(const std::vector<RegistryServerConfig>& servers);
Result<std::vector<RegistryServerConfig>> ParseServerList(const std::string& text);
// Creates the server list (from the configured servers) if the registry has none yet.
registry::Txn CreateServerList(const std::string& cluster_id,
                               const std::vector<RegistryServerConfig>& servers);
// Replaces the server list only if it is still at `mod_revision` (C6 changes, one at a time).
registry::Txn ReplaceServerList(const std::string& cluster_id,
                                const std::vector<RegistryServerConfig>& servers,
                                int64_t mod_revision);

// A document's text with the schema version added.
std::string Document(nlohmann::json body);

// Publishes a versioned document (the cluster map) by compare-and-swap: a write goes
// through only over the revision this publisher last saw, and a stored document with a
// version at least as high is never replaced (its writer is newer). One transaction in
// flight at a time; Next() returns nothing while one is.
class VersionedPublisher {
 public:
  explicit VersionedPublisher(std::string key) : key_(std::move(key)) {}
  // The transaction that publishes `version` (its `doc`), if it still needs publishing.
  std::optional<registry::Txn> Next(uint64_t version, const std::string& doc);
  void OnResult(const Result<registry::TxnResult>& r);

  uint64_t published() const { return published_; }
  uint64_t refused() const { return refused_; }  // versions not written: a newer one was there

 private:
  std::string key_;
  bool in_flight_ = false;
  uint64_t pending_ = 0;       // version of the transaction in flight
  int64_t seen_revision_ = 0;  // mod revision of the stored document (0: absent)
  uint64_t published_ = 0;     // highest version known to be stored (by us or newer)
  uint64_t refused_ = 0;
};

}  // namespace cohort::dcm::schema
