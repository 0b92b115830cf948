// ResourceService: the resource manager in the daemon (RM1, RM2, M13). On every node it
// keeps a mirror of the resource records (resources/records.h) by a registry watch, holds
// the node's lease, and drives the sans-I/O LocalAgent: taking and giving back owner keys,
// starting, monitoring and stopping resources through ResourceRunner. On the supervisor it
// also places resources (resources/placement.h) and writes the placement.
//
// Runs on the node's loop thread; every call must be made there.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "io/child.h"
#include "node/registry_records.h"
#include "node/resource_runner.h"
#include "resources/agent.h"
#include "resources/inventory.h"
#include "resources/placement.h"
#include "resources/records.h"

namespace boost::asio {
class io_context;
}
namespace cohort::registry {
class RegistryBackend;
}

namespace cohort::node {

class Node;

// One resource as the cluster knows it, for listing.
struct ResourceInfo {
  resources::ResourceSpec spec;
  NodeId placed = kNoNode;  // where the supervisor wants it
  std::string placed_reason;
  NodeId owner = kNoNode;  // who holds its key (runs it, or is starting or stopping it)
  std::map<NodeId, resources::StatusRecord> status;  // as each node last reported it
  std::map<NodeId, uint32_t> fail_counts;
};

// C9: a node's inventory changed (the configuration-changed event).
struct ConfigurationChange {
  uint64_t seq = 0;  // numbers the changes this node has seen, from 1
  NodeId node = kNoNode;
  int64_t at_ms = 0;  // Unix ms, when this node saw it
  resources::InventoryChange change;
};

struct ResourceMetrics {
  uint64_t actions = 0;          // start, stop, monitor run
  uint64_t action_failures = 0;  // of those, failed
  uint64_t lease_renewals = 0;
  uint64_t leases_lost = 0;
  uint64_t fenced = 0;  // times this node stopped everything near its lease's end
  uint64_t alive_renewals = 0;
  uint64_t takeovers = 0;  // owner keys taken from a node whose alive key stood still
  uint64_t placements_written = 0;
  uint64_t registry_errors = 0;
  uint64_t inventory_writes = 0;  // this node's inventory written (C9)
  uint64_t discoveries = 0;       // discoveries finished here (written or not)
  uint64_t configuration_changes = 0;
};

class ResourceService {
 public:
  using Records = RegistryRecords;
  using RecordsSource = node::RecordsSource;
  struct Options {
    Duration lease_ttl = Duration::Seconds(4);
    Duration fence_margin = Duration::Millis(2500);
    Duration alive_ttl;  // zero: no fast takeover (resources/agent.h)
    RunnerOptions runner;
  };
  ResourceService(Node& node, RecordsSource records, boost::asio::io_context& io, Options options);
  ~ResourceService();
  ResourceService(const ResourceService&) = delete;
  ResourceService& operator=(const ResourceService&) = delete;

  void Start();
  // Stops what runs here, gives the keys back and ends the lease (so others take over at
  // once), then calls `done`; at the latest after `limit`.
  void Stop(Duration limit, std::function<void()> done);

  // ---- operations (the API) ----
  using StatusDone = std::function<void(Status)>;
  // A new definition; fails if the name is taken.
  void Define(const resources::ResourceSpec& spec, StatusDone done);
  void Remove(const std::string& name, StatusDone done);
  // Changes a definition by compare-and-swap (start, stop, move): `change` may refuse.
  void Change(const std::string& name, std::function<Status(resources::ResourceSpec&)> change,
              StatusDone done);
  // `cohort resource clear`: the move is dropped, fail counts reset, a blocked one released.
  void Clear(const std::string& name, StatusDone done);
  void Invoke(const std::string& name, const std::string& action, Duration timeout,
              std::function<void(Result<io::ChildResult>)> done);

  // ---- reading ----
  bool synced() const;  // the mirror has been read from the registry
  NodeId self() const;  // this node
  std::vector<ResourceInfo> List() const;
  std::optional<ResourceInfo> Find(const std::string& name) const;
  // Where the resource would go now, and why, node by node.
  Result<resources::Placement> Explain(const std::string& name) const;
  std::map<std::string, resources::LocalState> LocalStates() const;
  const ResourceMetrics& metrics() const;
  // C9: every node's inventory of built-in resources, as the registry holds them.
  const std::map<NodeId, resources::Inventory>& Inventories() const;
  // The configuration changes seen since `after` (the last 200 at most).
  std::vector<ConfigurationChange> Changes(uint64_t after) const;
  // Discovers this node's resources again now, rather than at the next period.
  void Rescan();
  // `fn` runs after each change of the mirror (a watch feed); returns an id to Unsubscribe.
  uint64_t Subscribe(std::function<void()> fn);
  void Unsubscribe(uint64_t id);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::node
