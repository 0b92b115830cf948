// Stream placement scenarios (SPEC W2, M13) for cohort-sim and tests/sim (see scenarios.h
// for the result type).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "sim/scenarios.h"

namespace cohort::sim {

void AddStreamsScenarios(std::map<std::string, std::string>& all);
std::optional<ScenarioResult> RunStreamsScenario(const std::string& name, int nodes, uint64_t seed);

}  // namespace cohort::sim
