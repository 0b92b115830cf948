// Group Services scenarios (SPEC G1–G3) for cohort-sim and tests/sim (see scenarios.h for
// the result type).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "sim/scenarios.h"

namespace cohort::sim {

void AddGroupsScenarios(std::map<std::string, std::string>& all);
std::optional<ScenarioResult> RunGroupsScenario(const std::string& name, int nodes, uint64_t seed);

}  // namespace cohort::sim
