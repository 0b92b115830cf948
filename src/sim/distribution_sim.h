// DistributionSim: the distribution cores (NodeAgent on every server, JobTracker on the
// base) on virtual links with bandwidth limits, in virtual time. Content moves as a fluid
// in 5 ms steps: a feed carries min(source upload / its feeds, link limit) and never more
// than the source holds minus one chunk, so pipelining costs one chunk time per hop as on
// real TCP. Deterministic: no randomness beyond the seed's choice of victims.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "distribution/core.h"
#include "sim/scenarios.h"

namespace cohort::sim {

struct DistributionSetup {
  int servers = 8;                  // node 1 is the base and holds the content
  double upload = 12.5e6;           // bytes/s per server (100 Mbit/s)
  double size = 100.0 * (1 << 20);  // bytes
  double chunk = 32 * 1024;         // the daemons' Data frame
  size_t fanout = 1;
  std::map<std::pair<NodeId, NodeId>, double> link_limit;  // (from, to) -> bytes/s
  std::optional<NodeId> kill;  // killed when it holds kill_at of the content
  double kill_at = 0.5;
  bool restart_killed = false;  // restarted 20 s (virtual) after the kill
  // Who notices the killed relay's connections drop first. Real receivers often notice
  // last: they read what their socket still holds from the dead relay before its end, while
  // the relay's source already offers them the job again.
  bool receivers_notice_first = true;
  // The operator cancels the job this many seconds in (JobTracker::Cancel): every server
  // drops it when the base's Drop reaches it, a down one once it is back.
  std::optional<double> cancel_after;
  // Goes mute when it holds mute_at of the content: alive, answering, still receiving, and
  // keeping its feeds, but sending nothing on them (a source that is stuck, not dead).
  std::optional<NodeId> mute;
  double mute_at = 0.3;
  // The mute server is hung instead (a frozen process, or a disk that blocks it): it also
  // receives nothing and answers nothing, its connections stay open, and it comes back
  // hang_seconds later as it was.
  bool hang = false;
  double hang_seconds = 20;
  double limit_seconds = 600;
};

struct DistributionOutcome {
  double seconds = 0;                    // until the job was final (or the limit)
  std::string state;                     // the tracker's job state
  std::map<NodeId, double> received;     // bytes delivered to each server, duplicates included
  std::map<NodeId, double> finished_at;  // seconds
  std::map<NodeId, NodeId> last_source;
  std::map<NodeId, distribution::ServerState> states;
  int switches = 0;              // D8 switches accepted
  std::set<NodeId> ever_failed;  // servers the tracker reported failed at some point
  // A cancelled job: who dropped it (and when), what each holds at the end (a dropped
  // server deletes what it had not completed), feeds still running, drops unconfirmed.
  std::map<NodeId, double> dropped_at;
  std::map<NodeId, double> holds;
  size_t feeds_left = 0;
  bool drops_pending = false;
};

DistributionOutcome RunDistribution(const DistributionSetup& setup);

void AddDistributionScenarios(std::map<std::string, std::string>& all);
std::optional<ScenarioResult> RunDistributionScenario(const std::string& name, int nodes,
                                                      uint64_t seed);

}  // namespace cohort::sim
