// Named simulator scenarios: run by `cohort-sim` and by the simulator tests with fixed
// seeds. Each runs the production TransportCore on SimCluster, checks its invariants, and
// reports figures (virtual-time measurements) and a trace digest that replays identically
// for the same (scenario, nodes, seed).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cohort::sim {

struct ScenarioResult {
  std::string scenario;
  int nodes = 0;
  uint64_t seed = 0;
  bool passed = true;
  std::vector<std::string> failures;  // one line per broken check
  std::map<std::string, double> figures;
  uint64_t trace_digest = 0;
  uint64_t delivered = 0;
  uint64_t dropped = 0;
};

// Names of the scenarios, with a line describing each.
const std::map<std::string, std::string>& Scenarios();
// REQUIRES: Scenarios() contains `name`; nodes >= 2.
ScenarioResult RunScenario(const std::string& name, int nodes, uint64_t seed);

}  // namespace cohort::sim
