// The configuration manager's decisions, free of I/O (issue 4; SPEC C1, C5, C13): in which
// order a node tries the registry servers, how soon a dead registry process is restarted,
// and the command line of a registry server's etcd.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/config.h"
#include "base/ids.h"
#include "base/time.h"

namespace cohort::dcm {

// One registry server as a client sees it: its node, its address and how far it is.
struct ServerDistance {
  NodeId id = kNoNode;
  uint32_t address = 0;   // IPv4, host order: the tie-breaker within one distance
  uint32_t distance = 0;  // 0: this node's own server; then hops
  int priority = 0;       // C12: of the network the address is on, for the registry service
};

// C12 then C13: highest priority first; within a priority, nearest first; within a set of
// k equidistant servers sorted by address, the client with node number n starts at index
// n mod k and wraps, so clients spread over equally good servers instead of all picking the
// lowest address.
std::vector<NodeId> OrderServers(NodeId self, std::vector<ServerDistance> servers);

// What a client knows of the way to one registry server's client address.
struct ServerRoute {
  int priority = 0;             // of its network for the registry service (C12)
  std::optional<uint8_t> hops;  // routers on the way, measured from received TTLs (C13)
};
// Servers never heard from sort after every measured one.
inline constexpr uint32_t kUnmeasuredDistance = 1000;

// A node's view of the registry servers (C5): its own server first, then the others by
// priority and measured distance (`route`; absent: all equal and unmeasured).
std::vector<RegistryServerConfig> OrderedEndpoints(
    NodeId self, const std::vector<RegistryServerConfig>& all,
    const std::function<ServerRoute(const RegistryServerConfig&)>& route = {});

// How long to wait before restarting a registry process that died: doubling from `first`
// up to `max`, back to `first` once a run lasted `stable` or longer.
class RestartBackoff {
 public:
  RestartBackoff(Duration first = Duration::Millis(250), Duration max = Duration::Seconds(8),
                 Duration stable = Duration::Seconds(30))
      : first_(first), max_(max), stable_(stable), next_(first) {}
  // The process started at `started` and died at `died`: the delay before the next start.
  Duration OnExit(Instant started, Instant died);
  int restarts() const { return restarts_; }

 private:
  Duration first_, max_, stable_, next_;
  int restarts_ = 0;
};

struct EtcdLaunch {
  std::string binary;
  NodeId self = kNoNode;
  std::string data_dir;
  std::string cluster_token;  // unique per cluster, so two clusters' members never mix
  std::vector<RegistryServerConfig> members;  // the cluster this member starts or joins
  bool join_existing = false;                 // added by `registry server define`
  uint32_t heartbeat_ms = 100;
  uint32_t election_ms = 1000;
  // Where the registry's TLS files are (dcm/tls.h): ca.pem, node.pem, node.key. Set: client
  // and peer URLs are https and both demand a certificate of the cluster. Empty: plaintext
  // (tests of the registry client against a bare etcd).
  std::string tls_dir;
};

// "https://" when the launch has TLS files, else "http://".
std::string Scheme(const EtcdLaunch& launch);

// etcd's member name for a node ("n<id>"), which status and membership calls map back.
std::string MemberName(NodeId id);
// The node a member name stands for; nothing when it is not "n<id>" of a valid id.
std::optional<NodeId> MemberNode(const std::string& name);
// The argv of a registry server's etcd. Fails when `self` is not one of `members`.
Result<std::vector<std::string>> EtcdArguments(const EtcdLaunch& launch);
// R6: the argv of `etcdctl snapshot restore` that makes `launch.data_dir` from `snapshot`
// for this member of the same cluster (`launch.binary` is etcdctl here).
Result<std::vector<std::string>> RestoreArguments(const EtcdLaunch& launch,
                                                  const std::string& snapshot);
// The EtcdLaunch of a registry server node from its config (data under data_dir/registry).
EtcdLaunch LaunchFor(const Config& config);

// A cluster id names folders: 1 to 64 lowercase hex digits, as NewClusterId makes them.
bool ValidClusterId(const std::string& id);
// Cluster names go into registry keys and messages: 1 to 64 letters, digits, '.', '_', '-'.
bool ValidClusterName(const std::string& name);

}  // namespace cohort::dcm
