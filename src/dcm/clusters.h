// The clusters one node is defined to (C2, C3, C10), as operations on its local storage.
// A node may be defined to several clusters and runs in at most one: local.json's
// `current`. `cluster define` makes a new cluster with this node as its first member and
// registry server; `online` starts a waiting node in one; `offline` takes it out (it then
// waits, whatever its file says); `move` sets `target` and starts the node again in the
// target, whence it settles (`current` follows) once online there or returns to `current`
// at the move's deadline. `undefine` forgets one this node does not run in.
//
// What a node runs at start follows from local storage and its file (PlanStart): a
// cluster defined at run time keeps its definition in clusters/<id>/config (cluster.json,
// the DefineMessage that defined it, and cluster.key); a file's [cluster] is a cluster
// defined and online at start, known by its name once it has joined.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/config.h"
#include "base/result.h"
#include "base/time.h"
#include "dcm/core.h"
#include "dcm/define_wire.h"
#include "dcm/storage.h"

namespace cohort::dcm {

std::string
NewClusterId();  // hex digits only, as ValidClusterId (core.h) wants  // 16 random hex digits

// The move's deadline when `cluster move` names none.
inline constexpr int64_t kDefaultMoveDeadlineMs = 3000;

// Writes the definition `m` (a commit) of its cluster to clusters/<id>/config, erasing any
// older one: cluster.key (0600) and cluster.json (without the key).
Status WriteClusterDefinition(const LocalStorage& storage, const std::string& data_dir,
                              const DefineMessage& m);

// The configuration to run cluster `id` with: `file` completed from the definition in
// clusters/<id>/config, or `file` itself when `id` is its [cluster] as local storage knows
// it. Nothing when this node keeps no such cluster; an error when the definition is damaged.
Result<std::optional<Config>> ClusterConfig(const Config& file, const LocalConfiguration& local,
                                            const std::string& id);

// What cohortd runs at start.
struct StartPlan {
  enum class Kind { kWait, kRun, kMove };
  Kind kind = Kind::kWait;
  Config config;                                                 // kRun, kMove: the cluster's
  Duration deadline = Duration::Millis(kDefaultMoveDeadlineMs);  // kMove
};
Result<StartPlan> PlanStart(const Config& file);

// C10: a move whose target the node could not even run in (a refusal, a bad definition, a
// port taken) is called off: the node returns to its current cluster at its next start.
Status CallOffMove(const Config& file, const std::string& why);

// C10, while a node moves: online in the target settles the move; past the deadline without
// it, the node returns to its current cluster.
enum class MoveStep { kWait, kSettle, kRevert };
MoveStep DecideMove(bool online, Duration elapsed, Duration deadline);

struct ClusterSpec {
  std::string name;
  NodeId number = 1;  // this node's number in it
  // Where this node's etcd listens for the new cluster; unset: the first adapter's
  // address on etcd's ports 2379 and 2380.
  std::optional<Endpoint> registry_client, registry_peer;
};

// What a change did, for people, and whether the node must start again to follow it.
struct ClusterChange {
  std::string message;
  bool restart = false;
  std::string cluster_id;  // the cluster it concerns
};

class LocalClusters {
 public:
  // `running`: the id of the cluster the node runs in now, "" while it waits.
  // `registry_server`: it runs a registry server there (such a node does not move).
  LocalClusters(const Config& config, const LocalStorage& storage, LocalConfiguration& local,
                std::string uid, std::string running, bool registry_server)
      : config_(config),
        storage_(storage),
        local_(local),
        uid_(std::move(uid)),
        running_(std::move(running)),
        registry_server_(registry_server) {}

  Result<ClusterChange> Define(const ClusterSpec& spec);
  Result<ClusterChange> Undefine(const std::string& name);
  Result<ClusterChange> Online(const std::string& name);
  Result<ClusterChange> Offline(const std::string& name);
  Result<ClusterChange> Move(const std::string& name, int64_t deadline_ms);

  // Who asked for the changes that follow, for the audit log (C2).
  void set_requester(std::string by) { by_ = std::move(by); }
  const std::string& requester() const { return by_; }

  LocalConfiguration& local() { return local_; }
  const LocalStorage& storage() const { return storage_; }

 private:
  // The cluster named `name` (or with that id); an error naming the defined ones if none.
  Result<ClusterDefinition> Find(const std::string& name) const;
  // OK when the node can start in `c`: its definition is kept here, or it is the file's.
  Status Runnable(const ClusterDefinition& c) const;
  Status Save(const std::string& event, const std::map<std::string, std::string>& fields);

  const Config& config_;
  const LocalStorage& storage_;
  LocalConfiguration& local_;
  std::string uid_;
  std::string running_;
  bool registry_server_;
  std::string by_;
};

}  // namespace cohort::dcm
