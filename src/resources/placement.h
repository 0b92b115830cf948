// Placement (M13): on which node each resource should run, decided by the supervisor from
// the definitions and what it knows of the nodes, and explained node by node so that
// `cohort resource explain` can say why a resource is where it is.
//
// A pure function: the same inputs give the same placement, so the supervisor, the simulator
// and `explain` all run the same decisions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/ids.h"
#include "resources/spec.h"

namespace cohort::resources {

struct NodeFacts {
  NodeId id = kNoNode;
  bool up = false;                 // in the cluster map and up
  std::set<std::string> disks_ok;  // disks whose latest check passed
  // Of the content paths some resource needs, those the node holds (its inventory).
  std::set<std::string> content;
  uint32_t capacity_mbps = 0;  // streaming capacity (0: unknown)
};

struct PlacementInput {
  std::map<std::string, ResourceSpec> specs;
  std::vector<NodeFacts> nodes;
  std::map<std::string, NodeId> running;  // where each resource runs now (its owner)
  // Failures of a resource on a node since the last `clear`.
  std::map<std::string, std::map<NodeId, uint32_t>> fail_counts;
};

// Scores that weigh against each other.
inline constexpr int64_t kStickiness = 100;      // stay where it runs rather than move
inline constexpr int64_t kMovedTo = 10'000'000;  // `cohort resource move` wins over all else
inline constexpr int64_t kPerResourceHere = 10;  // spread: each resource already placed there

// One node's standing for one resource.
struct NodeScore {
  NodeId node = kNoNode;
  bool eligible = false;
  int64_t score = 0;
  std::string why;  // what excluded it, or what its score is made of
};

struct Placement {
  NodeId node = kNoNode;  // kNoNode: it does not run anywhere
  std::string reason;     // one line: why there, or why nowhere
  std::vector<NodeScore> scores;
};

// Resources placed in an order where each comes after those it must run with, and those
// running now before the others (so a new resource cannot take the capacity a running one
// holds); a resource in a cycle of `with` cannot run and says so.
std::map<std::string, Placement> Place(const PlacementInput& input);

}  // namespace cohort::resources
