// ResourceService's state, shared by its files: resource_service.cc (the mirror, the lease,
// the agent's actions) and resource_ops.cc (placement on the supervisor, the operations and
// the reading). Private to node/.
#pragma once

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <deque>
#include <set>

#include "io/asio.h"
#include "io/clock.h"
#include "io/timer.h"
#include "node/inventory_scan.h"
#include "node/resource_service.h"
#include "registry/backend.h"

namespace cohort::node {

struct ResourceService::Impl {
  Impl(Node& n, RecordsSource r, boost::asio::io_context& i, Options o);

  // The registry's resource records as the watch last saw them.
  struct OwnerKey {
    NodeId node = kNoNode;
    int64_t lease = 0;
    int64_t mod_revision = 0;
  };
  struct Mirror {
    std::map<std::string, resources::ResourceSpec> specs;
    std::map<std::string, resources::PlacedRecord> placed;
    std::map<std::string, OwnerKey> owners;
    std::map<std::string, std::map<NodeId, resources::StatusRecord>> status;
    std::map<std::string, std::map<NodeId, uint32_t>> fails;
    std::map<NodeId, resources::Inventory> inventories;
    std::map<NodeId, resources::AliveView> alive;
  };

  Node& node;
  RecordsSource where_records;
  boost::asio::io_context& io;
  Options options;
  ResourceRunner runner;
  resources::LocalAgent agent;
  Mirror mirror;
  ResourceMetrics metrics;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  bool stopping = false;
  bool synced = false;
  bool syncing = false;
  // This daemon run's join (Unix ms), in every inventory it writes (C9: an event per join).
  const int64_t joined_ms = static_cast<int64_t>(io::WallMillis());
  resources::JoinHistory joins;  // apart from the mirror, which forgets deleted records
  Instant sync_started;          // a watch that ended is opened again at once, at most this often
  bool probed = false;           // the start-up probe has run
  int probes = 0;  // start-up monitors still running: nothing is decided until they end
  std::optional<registry::WatchId> watch;
  Records watched;
  // A watch can go silent without an error (its server cut off, the stream still open):
  // a write of this node's own that the watch has not shown within kWatchSilence means
  // the records are read again. The newest revision the mirror holds, and the oldest own
  // write it does not show yet.
  int64_t seen_revision = 0;
  int64_t awaited_revision = 0;
  Instant awaited_since;
  bool granting = false;
  bool renewing = false;
  // Fast takeover: this node's alive key (for which lease, at which revision; 0: to be put),
  // and when each node's alive key was first seen at its revision — kept over a read again.
  int64_t alive_lease = 0;
  int64_t alive_revision = 0;
  bool alive_renewing = false;
  std::map<NodeId, std::pair<int64_t, Instant>> alive_seen;
  boost::asio::steady_timer tick;  // lease renewals and re-syncs
  io::Timer wakeup;                // the agent's next monitor or fence
  boost::asio::steady_timer stop_timer;
  boost::asio::steady_timer alive_timer;  // alive key renewals (fast takeover)
  std::function<void()> stop_done;        // set while stopping
  Instant stop_deadline;
  bool revoking = false;
  Instant wakeup_at = Instant::Max();
  bool driving = false;
  bool drive_again = false;
  std::map<std::string, resources::ResourceSpec> last_specs;  // as last run here
  std::map<std::string, std::string> last_error;              // the last failed action's detail
  std::map<std::string, uint32_t> failures_written;
  std::map<std::string, NodeId> placing;  // placement writes in flight
  Instant place_after;                    // after a failed write: not before this
  std::map<uint64_t, std::function<void()>> listeners;
  uint64_t next_listener = 1;
  // C9: this node's discoveries, and every node's changes as the watch brought them.
  Instant next_discovery;
  bool discovering = false;
  bool rediscover = false;         // a rescan asked while one was under way
  bool inventory_refused = false;  // the last one could not be written: said once
  std::deque<ConfigurationChange> changes;
  uint64_t next_change = 1;
  // Set when the service goes: a content walk under way gives up at its next entry.
  std::shared_ptr<std::atomic<bool>> cancel_scan = std::make_shared<std::atomic<bool>>(false);
  // The content walk, off the loop. Last, so it is joined before the rest goes.
  boost::asio::thread_pool scan_pool{1};

  // resource_service.cc
  void Tick();
  void Sync();
  void Apply(const std::vector<registry::WatchEvent>& events);
  // An own write went through at `revision`: the watch must show it soon.
  void Wrote(int64_t revision);
  void CheckWatch();
  // Whether the record is news for the agent and the listeners (an alive renewal is not).
  bool ApplyOne(const registry::KeyValue& kv, bool deleted);
  void Probe();
  void KeepLease();
  void AliveTick();
  void KeepAlive();
  void AliveAnswered(int64_t lease, Instant sent, const Result<registry::TxnResult>& r);
  bool ApplyAlive(NodeId node, const registry::KeyValue& kv, bool deleted);
  void TakeOver(const std::string& name);
  void Drive();
  void DriveOnce();
  void Carry(const resources::Action& a);
  void Acquire(const std::string& name);
  void Release(const std::string& name);
  void RunAction(const resources::Action& a);
  void RecordFailure(const std::string& name);
  void Report(const std::string& name);
  void ScheduleWakeup();
  void CheckStopped();
  void FinishStop();
  void Notify();
  const resources::ResourceSpec* SpecOf(const std::string& name) const;
  Records Where() const;
  template <typename F>
  auto Later(F f) {
    return [this, alive = alive, f = std::move(f)](auto&&... args) mutable {
      if (!*alive) return;
      f(std::forward<decltype(args)>(args)...);
    };
  }

  // resource_inventory.cc (C9)
  void Discover();
  void WriteInventory(const resources::Inventory& found);
  void ContentFound(resources::Inventory& own, ContentScan scan);
  void ApplyInventory(NodeId node, const registry::KeyValue& kv, bool deleted);
  // After a read of the records that replaced the mirror: what changed meanwhile.
  void InventoriesReread(const std::map<NodeId, resources::Inventory>& before);
  void RecordChange(NodeId node, const resources::InventoryChange& change);

  // resource_ops.cc
  void ReadSpec(const std::string& name,
                std::function<void(Result<std::pair<resources::ResourceSpec, int64_t>>)> done);
  void RemoveRecords(const std::string& name, const StatusDone& done);
  // A new definition: written if no resource has its name.
  void Write(const resources::ResourceSpec& spec, const StatusDone& done);
  resources::PlacementInput PlacementNow() const;
  void PlaceAsSupervisor();
  resources::RegistryView ViewForAgent() const;
  ResourceInfo InfoOf(const std::string& name) const;
};

}  // namespace cohort::node
