// Hierarchy scenarios (M14) for cohort-sim and tests/sim, on HierarchySim. A scenario runs on
// a shape (cohort-sim --shape 22x22x21); given only a node count, it runs on two levels of
// about sqrt(nodes) clusters of about sqrt(nodes) daemons.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenarios.h"

namespace cohort::sim {

void AddHierarchyScenarios(std::map<std::string, std::string>& all);
bool IsHierarchyScenario(const std::string& name);
std::optional<ScenarioResult> RunHierarchyScenario(const std::string& name, int nodes,
                                                   uint64_t seed);
// REQUIRES: IsHierarchyScenario(name); shape as ParseShape accepts it.
ScenarioResult RunHierarchyShape(const std::string& name, const std::vector<int>& shape,
                                 uint64_t seed);

}  // namespace cohort::sim
