// Shared by the simulator tests: a failing scenario prints its failures and the command
// that replays its seed.
#pragma once

#include <gtest/gtest.h>

#include "sim/scenarios.h"

namespace cohort::sim {

inline void ExpectPass(const ScenarioResult& r) {
  std::string why;
  for (const auto& f : r.failures) why += "\n  " + f;
  EXPECT_TRUE(r.passed) << r.scenario << " failed; replay with: cohort-sim --scenario "
                        << r.scenario << " --nodes " << r.nodes << " --seed " << r.seed << why;
}

}  // namespace cohort::sim
