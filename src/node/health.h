// Health: the whole cluster's health as one node sees it (`cohort doctor`, GET /v1/health).
// Evaluate() is a pure function from what the node's components know (the cluster map, the
// registry's status, the liveness matrix, jobs, resources) to a verdict and a list of
// problems, each stated as what is wrong, where, and what to do. HealthWatch adds time: when
// each member entered its state and when each problem was first seen, and it holds back a
// problem that is normal for a moment (a node joining, a resource starting) until it lasts.
// No I/O; the API layer gathers the inputs and drives the watch.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/time.h"
#include "distribution/core.h"
#include "liveness/core.h"
#include "membership/types.h"
#include "registry/backend.h"

namespace cohort::node::health {

// Ordered: a report's verdict is its worst problem's.
enum class Verdict : uint8_t { kHealthy = 0, kDegraded = 1, kDown = 2 };
const char* VerdictName(Verdict v);

enum class Area : uint8_t {
  kNode,
  kMembers,
  kSupervisor,
  kRegistry,
  kDisks,
  kNetworks,
  kJobs,
  kResources
};
inline constexpr int kAreaCount = 8;
const char* AreaName(Area a);

struct Problem {
  Verdict severity = Verdict::kDegraded;  // kDegraded or kDown
  Area area = Area::kNode;
  std::string key;    // the same while the problem lasts: its start is kept by it
  std::string what;   // one line: what is wrong
  std::string where;  // "node 3", "disk d1 from node 2", "network admin: 10.0.0.1 → 10.0.0.2"
  std::string action;
  int64_t since_ms = 0;     // Unix ms when it began (or this node first saw it); 0 unknown
  Duration grace;           // shown only once it lasted this long (normal for a moment)
  NodeId member = kNoNode;  // a member's state: it began when the member entered it
};

// A distribution job, as health needs it.
struct JobBrief {
  std::string id;
  distribution::JobState state = distribution::JobState::kRunning;
  size_t servers = 0;
  std::vector<NodeId> failed_servers;
  uint64_t bytes = 0;      // all servers' bytes received together: a stall is no change
  bool behind = false;     // some server that has not failed holds less than the stream so far
  bool final = false;      // its outcome is settled: no repair is pending
  bool cancelled = false;  // stopped by an operator: not a problem
  std::string error;       // the first failure's message
};

// A resource, as health needs it.
struct ResourceBrief {
  std::string name;
  bool should_run = false;      // its target is started
  bool running = false;         // its owner reports it running
  NodeId blocked_on = kNoNode;  // a node where its stop failed
  std::string error;            // the latest action's failure
  std::string placed_reason;    // why the supervisor placed it where it did (or nowhere)
};

struct Inputs {
  NodeId self = kNoNode;
  membership::Role role = membership::Role::kListening;
  // This daemon started moments ago: not yet in its cluster, or without a registry answer,
  // is where it is on its way (degraded at once), not a fault held back by a grace.
  bool starting = false;
  membership::ClusterMap map;
  bool registry_configured = false;
  std::optional<registry::RegistryStatus> registry;
  std::vector<NodeId> registry_servers;  // as configured: named when the status lists none
  std::string registry_error;            // the latest failure to read its status, if any
  std::vector<liveness::NetworkView> networks;
  std::vector<JobBrief> jobs;
  std::vector<ResourceBrief> resources;
  bool resources_synced = true;  // false: the resource list is not read yet (not judged)
};

struct Report {
  Verdict verdict = Verdict::kHealthy;
  std::vector<Problem> problems;  // worst first, then by area
  size_t members_up = 0;
  size_t members_total = 0;  // listed and not left
  NodeId supervisor = kNoNode;
  std::optional<registry::RegistryStatus> registry;
  size_t registry_servers_up = 0;
};

// The problems the inputs show, with no time yet (since 0, every grace still to run).
Report Evaluate(const Inputs& in);

// A member's change of state, as this node saw it.
struct Transition {
  int64_t at_ms = 0;
  NodeId node = kNoNode;
  std::optional<membership::MemberState> from;  // none: first listed
  std::optional<membership::MemberState> to;    // none: no longer listed
};

class HealthWatch {
 public:
  static constexpr size_t kHistoryLimit = 256;

  // Each cluster map this node takes: records every member whose state changed.
  void ObserveMap(const membership::ClusterMap& map, int64_t now_ms);
  // Sets each problem's `since` (members: when they entered their state; others: when first
  // seen by a Stamp without a gap), forgets problems that went away, and drops those still
  // within their grace (the verdict follows what is left).
  void Stamp(Report& report, int64_t now_ms);
  // Oldest first; at most kHistoryLimit.
  const std::deque<Transition>& history() const { return history_; }
  // When `node` entered its current state, 0 if unknown.
  int64_t StateSince(NodeId node) const;

 private:
  std::map<NodeId, membership::MemberState> states_;
  std::map<NodeId, int64_t> state_since_;
  std::deque<Transition> history_;
  std::map<std::string, int64_t> first_seen_;
};

}  // namespace cohort::node::health
