// The stream session table at scale (SPEC W2, M13): the production Catalog, StreamTable and
// Place on one simulated supervisor, with nodes holding a catalog filled as a content
// delivery network fills it (every title on a few nodes, popular titles on more), viewers
// arriving for titles drawn from a Zipf law and leaving, nodes crashing and disks failing.
// No network: what is simulated is the placement and the bookkeeping, at 1,000 nodes and
// 100,000 sessions in a few seconds.
//
// The checker reads the sessions, not the table's own counters: no node over its capacity,
// and every placed session on an up node holding an available copy of its content.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/prng.h"
#include "workload/catalog.h"
#include "workload/sessions.h"

namespace cohort::sim {

struct StreamsSimOptions {
  int nodes = 50;
  uint64_t seed = 1;
  int titles_per_node = 100;
  int min_copies = 3;
  double zipf = 0.8;
  uint64_t capacity_kbps = 600'000;  // per node
  double disk_share = 0.3;           // of a node's copies on its disk "d1", not its root
  double balance = 0.25;
  double balance_floor = 0.1;
  int fill_choices = 4;  // 1: holders chosen at random, blind to placement
};

struct PlacementTally {
  uint64_t opened = 0;  // placed, either way
  uint64_t first_choice = 0;
  uint64_t over_bound = 0;
  uint64_t refused = 0;
  uint64_t not_found = 0;
};

class StreamsSim {
 public:
  explicit StreamsSim(const StreamsSimOptions& options);

  // Viewers arrive one after another (1 ms apart) for `count` new sessions.
  void Arrive(int count);
  // Every up node reports what it serves (which opens the reservations).
  void Report();
  // `count` random sessions end.
  void Leave(int count);
  void Crash(NodeId node);
  void Restart(NodeId node);
  void FailDisk(NodeId node, bool failed);
  // The supervisor's pass after a change; returns the sessions it moved off a node.
  size_t Reassign();

  // Appends a line per broken invariant to `violations()`.
  void Check();
  const std::vector<std::string>& violations() const { return violations_; }

  NodeId RandomNode();
  // The highest node load over the mean over up nodes.
  double MaxOverAverage() const;
  const PlacementTally& tally() const { return tally_; }
  const workload::StreamTable& table() const { return table_; }
  const workload::Catalog& catalog() const { return catalog_; }
  size_t Unplaced() const;
  uint64_t trace() const { return trace_; }
  int64_t now_ms() const { return now_ms_; }
  int nodes() const { return options_.nodes; }

 private:
  void Fill();
  std::vector<workload::Holder> RandomHolders(uint64_t copies);
  uint64_t DrawTitle();
  uint64_t DrawBitrate();
  void Trace(uint64_t a, uint64_t b);

  StreamsSimOptions options_;
  Prng prng_;
  workload::Catalog catalog_;
  workload::StreamTable table_;
  std::vector<double> cdf_;  // popularity by title number
  std::vector<bool> up_;
  PlacementTally tally_;
  std::vector<std::string> violations_;
  uint64_t trace_ = 0;
  int64_t now_ms_ = 0;
};

}  // namespace cohort::sim
