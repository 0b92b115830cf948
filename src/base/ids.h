// Identifiers shared by every component. Plain values.
#pragma once

#include <cstdint>

namespace cohort {

// Node number, unique within a cluster, 1..65535 (INTERFACE.md `node.id`). 0 means "none".
using NodeId = uint16_t;
inline constexpr NodeId kNoNode = 0;

// Chosen at every daemon start and strictly larger than the previous one (the runtime uses
// wall-clock milliseconds), so peers can tell a restarted node from a replayed old one.
using Incarnation = uint64_t;

}  // namespace cohort
