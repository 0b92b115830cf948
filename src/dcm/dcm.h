// Dcm: the configuration manager's bootstrap agent on one node (issue 4; SPEC C1, C2, C5,
// R1–R3). Start() brings up the registry first: the local storage layout, the registry
// server (an etcd process, on registry server nodes), and the node's registry client, which
// reaches the servers in this node's order and fails over to the next. A status poll keeps
// the registry's phase (R3): read-only while no leader is reachable — writes fail at once,
// local reads are served — and read-write once writes can commit. Once the node runs,
// Attach() lets the DCM keep this node's part of the global configuration in the registry
// (schema.h): the cluster id, its node definition and addresses, and, on the supervisor, the
// cluster map. Runs on the node's loop thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/config.h"
#include "base/result.h"
#include "base/time.h"
#include "dcm/clusters.h"
#include "dcm/define_protocol.h"
#include "dcm/define_wire.h"
#include "dcm/network_objects.h"
#include "dcm/schema.h"
#include "dcm/storage.h"
#include "registry/backend.h"
#include "registry/etcd.h"

namespace boost::asio {
class io_context;
}
namespace cohort::node {
class Node;
}

namespace cohort::dcm {

class DefineTarget;

class Dcm {
 public:
  // `config`: the cluster's, as the node runs it; `file`: the node's config file as loaded,
  // whence the clusters it may start in (dcm/clusters.h).
  static Result<std::unique_ptr<Dcm>> Create(const Config& config, const Config& file,
                                             boost::asio::io_context& io);
  ~Dcm();

  Status Start();
  void Attach(node::Node& node);
  void Stop();  // stops the registry server (the node goes offline)

  bool has_registry() const;  // false when [registry] lists no servers
  // The registry as this node's components use it, guarded by the phase. has_registry() only.
  registry::RegistryBackend& registry();
  // The latest answer of the status poll, if any answered yet.
  const std::optional<registry::RegistryStatus>& registry_status() const;
  // Why the last status poll failed ("" when it answered).
  const std::string& registry_error() const;
  // The registry servers in the order this node's client tries them (C5, C12, C13).
  std::vector<NodeId> registry_order() const;
  // "not configured", "starting" (no status yet), "read-only" or "read-write".
  std::string registry_state() const;
  std::string server_state() const;  // the local etcd: "", "running", "restarting", "stopped"
  int server_restarts() const;
  const std::string& cluster_id() const;  // "" until read from the registry
  uint64_t map_published() const;         // the highest map version stored by or before us
  // Long-poll (R5): the changes under `prefix` from revision `from` (inclusive; 0: from
  // now on), answered with the first batch, or with none once `timeout` has passed.
  void WatchOnce(const std::string& prefix, int64_t from, Duration timeout,
                 std::function<void(Result<std::vector<registry::WatchEvent>>)> done);

  // C6, one at a time. Define: add `server` to the registry as a learner, list it (its node's
  // DCM then starts etcd and joins), promote it once it has caught up; undone if it does not
  // within `catch_up`. Undefine: move the leadership away if it holds it, remove it from the
  // registry and the list (its node's DCM stops its etcd). `done` gets a message for people.
  void DefineServer(const RegistryServerConfig& server, Duration catch_up,
                    std::function<void(Result<std::string>)> done);
  void UndefineServer(NodeId id, std::function<void(Result<std::string>)> done);
  // C6: takes node `id`'s registry server offline (its node's DCM stops it, its data and
  // membership kept; the leadership moves away first) or back online. Offline is refused
  // when it would leave no majority of the servers answering. `done` once the server has
  // stopped or answers again.
  void SetServerOffline(NodeId id, bool offline, std::function<void(Result<std::string>)> done);
  // The nodes whose registry servers are offline.
  void OfflineServers(std::function<void(Result<std::vector<NodeId>>)> done);
  // The registry's members as etcd lists them ("n<id>" names, learners flagged).
  void ListServers(std::function<void(Result<std::vector<registry::EtcdMember>>)> done);

  // After a key install, use or removal (T8): re-issues this node's registry credentials
  // (dcm/tls.h) and, when the set of trusted keys changed, restarts the local registry
  // server so it trusts them; `done` once that server answers again and the registry is
  // read-write, so an operator's loop over the nodes restarts one server at a time.
  void KeyringChanged(std::function<void(Result<std::string>)> done);

  // R6: a snapshot of the registry (etcd's format, its SHA-256 at the end).
  void Snapshot(std::function<void(Result<std::string>)> done);

  // C4, C8: this machine's unique id, and whether the node's definition in the cluster
  // agrees with it: "unchecked", "checking", "settled" or "refused".
  const std::string& uid() const;
  std::string identity_state() const;
  // Called once if the cluster refuses this node (a clone of another node's machine, or a
  // number defined to another machine), with one line that names both and the fix, and
  // whether the node is no longer defined at all (it may then wait to be defined again).
  void OnRefused(std::function<void(const std::string& why, bool undefined)> refused);

  // C2: the clusters this node is defined to, the current and the target one.
  const LocalConfiguration& local() const;
  // C4: the nodes defined in this node's cluster, in number order.
  void ListNodes(std::function<void(Result<std::vector<DefinedNode>>)> done);
  // C11: the network objects as the registry holds them.
  void ReadNetworks(std::function<void(Result<schema::StoredNetworks>)> done);
  // C11: defines, modifies or undefines a network or a subnet; `done` gets what was done.
  // Every node applies the change within a second (liveness networks, traffic priorities).
  void EditNetworks(schema::NetworkEdit edit, std::function<void(Result<std::string>)> done);
  // C6: removes node `id`'s definition (its number, UID claim and addresses) from the
  // cluster. Refused for this node and for a node that is up: stop it first. A node that
  // was away cleans up its own copy when it comes back (C8).
  void UndefineNode(NodeId id, std::function<void(Result<std::string>)> done);
  // C7: defines the node waiting at `target` (its API address) to this cluster, by the
  // protocol of NodeDefine over the channel of define_wire.h keyed by its join token: both
  // definitions, global and local, or neither. The node then starts in the cluster.
  void DefineNode(const Endpoint& target, const std::string& join_token,
                  std::optional<NodeId> number, const std::string& name,
                  std::function<void(Result<std::string>)> done);

  // C3, C10: the clusters this node is defined to, as changes to its local storage.
  LocalClusters Clusters();
  // C7: this node's side of a definition to another cluster, by one of its members.
  DefineTarget& define_target();
  // A change this node follows by starting again (a move, going offline): `restart` is
  // called shortly after Restart(), once the change's answer has gone out.
  void OnRestart(std::function<void()> restart);
  void Restart();
  // C10: online in this cluster: a member of it with another node up, and the registry
  // answering. A moving node settles once it is, or returns when it is not in time.
  bool Online() const;
  void SettleMove();
  void RevertMove();

  // C6 (node_control.h): starts node `id` in this cluster, or takes it out (it waits), by
  // a message sealed under the cluster's key to its API. `done` once it has answered.
  void SetNodeOnline(NodeId id, bool online, std::function<void(Result<std::string>)> done);
  // C6: renames node `id` in its definition; the node takes the name up from there.
  void ModifyNode(NodeId id, const std::string& name,
                  std::function<void(Result<std::string>)> done);
  // C2: one line in this node's audit log (dcm/logs/audit.log).
  void Audit(const std::string& event, const std::map<std::string, std::string>& fields);
  // The node's config file as loaded (the clusters it may start in come from it).
  const Config& file() const;

  // Every component's bootstrap state, in start order (C1).
  std::vector<std::pair<std::string, std::string>> components() const;

 private:
  struct Impl;
  explicit Dcm(std::unique_ptr<Impl> impl);
  void DefineServerOnce(const RegistryServerConfig& server, Duration catch_up,
                        std::function<void(Result<std::string>)> done);
  void DropFromServerList(NodeId id, int attempts, std::function<void(Result<std::string>)> done);
  void TakeOffline(NodeId id, int attempts, const std::vector<NodeId>& marked,
                   std::function<void(Result<std::string>)> done);
  void MarkOffline(NodeId id, const std::vector<NodeId>& counted, int attempts,
                   std::function<void(Result<std::string>)> done);
  void WaitForAnswer(NodeId id, bool answering, Instant deadline,
                     std::function<void(Result<std::string>)> done);
  void PromoteWhenCaughtUp(const RegistryServerConfig& server, uint64_t member,
                           const std::vector<RegistryServerConfig>& before, Instant deadline,
                           std::function<void(Result<std::string>)> done);
  void WaitForServer(pid_t before, Instant deadline, std::function<void(Result<std::string>)> done);
  void RetryWaitForServer(pid_t before, Instant deadline,
                          std::function<void(Result<std::string>)> done);
  void PostControl(const Endpoint& api, const wire::Key& key, const DefineMessage& m,
                   const std::string& sealed, const std::string& text, int attempts,
                   std::function<void(Result<std::string>)> done);
  struct Definition;
  void Step(std::shared_ptr<Definition> d, NodeDefine::Action a);
  void Send(std::shared_ptr<Definition> d, DefineMessage m);
  DefineMessage CommitMessage(const NodeDefine::Action& a) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::dcm
