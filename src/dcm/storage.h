// LocalStorage: the configuration manager's files on one node (SPEC C2, C5), under the
// node's data directory:
//   dcm/configuration/local.json  the clusters this node is defined to, the current and the
//                                 target cluster id, the ordered registry server list and the
//                                 primary (the registry leader last seen)
//   dcm/logs/audit.log            one JSON line per configuration event
//   clusters/<cluster id>/{locks,logs,core,config}   per cluster, for the other components
//   registry/etcd                 the registry server's data (registry server nodes only)
//   registry/tls                  the registry's TLS files (dcm/tls.h), made at every start
//   clusters/<id>/registry/...    the same, for a cluster defined at run time (C3): a node
//                                 may be a registry server of several clusters
// local.json is replaced atomically; a crash leaves the old or the new version.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/result.h"

namespace cohort::dcm {

struct ClusterDefinition {
  std::string name;
  std::string id;         // unique: a cluster re-created under the same name gets a new one (C3)
  NodeId node = kNoNode;  // this node's number in it
  std::string uid;        // the UID it was defined with (C4, C8); "": no definition kept
  // C3: this node defined the cluster, so its first join writes its own global definition
  // (every other node's is written by the member that defined it).
  bool founder = false;
  bool operator==(const ClusterDefinition&) const = default;
};

struct LocalConfiguration {
  std::vector<ClusterDefinition> clusters;
  std::string current;  // cluster id this node belongs to now ("" before the first join)
  std::string target;   // cluster id it is moving to (C10); equal to current when settled
  std::vector<RegistryServerConfig> registry_servers;  // in this node's order (C5)
  NodeId primary = kNoNode;
  // C6: this node was made a registry server by `registry server define` (it is not in
  // its config's servers), or was removed from the servers by `undefine`.
  bool server_defined = false;
  bool server_removed = false;
  int64_t server_removed_revision = 0;  // of the server list that no longer named this node
  // C6: `registry server offline` stopped this node's server; it stays stopped, across
  // restarts, until `online`.
  bool server_offline = false;
  // The cluster the registry fields above belong to: a node that starts in another cluster
  // (C10) forgets them. "" before the first join (they belong to the cluster it joins).
  std::string registry_cluster;
  // C3: `cluster offline` took the node out of its current cluster: it runs none until
  // `cluster online` (even when its file has a [cluster]).
  bool offline = false;
  // C10: how long a move to `target` may take before the node returns to `current`.
  int64_t move_deadline_ms = 0;
  // C6: when the last `node online|offline` this node took was sent (the sender's wall
  // clock, ms): an older or equal one is a replay.
  int64_t control_ms = 0;
  bool operator==(const LocalConfiguration&) const = default;
};

class LocalStorage {
 public:
  // Creates the dcm/ folders if missing.
  static Result<LocalStorage> Open(const std::string& data_dir);

  // The saved configuration; an empty one before the first save.
  Result<LocalConfiguration> Load() const;
  Status Save(const LocalConfiguration& c) const;
  // Appends one line to the audit log: {"time", "event", ...fields}.
  Status Audit(const std::string& event, const std::map<std::string, std::string>& fields) const;
  // Creates the per-cluster folders and returns clusters/<id>.
  Result<std::string> ClusterDir(const std::string& cluster_id) const;

  // The registry server's files of the cluster `id` defined at run time go under
  // clusters/<id>/registry rather than registry/.
  Status UseClusterRegistry(const std::string& id);

  std::string configuration_file() const;
  std::string audit_file() const;
  std::string registry_data_dir() const;  // registry/etcd
  std::string registry_log_file() const;  // registry/etcd.log
  std::string registry_tls_dir() const;   // registry/tls

 private:
  explicit LocalStorage(std::string root)
      : root_(std::move(root)), registry_(root_ + "/registry") {}
  std::string root_;
  std::string registry_;  // where the registry server's files go
};

}  // namespace cohort::dcm
