// Identifiers shared by every component. Plain values.
#pragma once

#include <cstdint>
#include <string_view>

namespace cohort {

// Node number, unique within a cluster, 1..65535 (INTERFACE.md `node.id`). 0 means "none".
using NodeId = uint16_t;
inline constexpr NodeId kNoNode = 0;

// Chosen at every daemon start and strictly larger than the previous one (the runtime uses
// wall-clock milliseconds), so peers can tell a restarted node from a replayed old one.
using Incarnation = uint64_t;

// Disk ids ([[disk]] id, M1/M11): 1..kMaxDiskId characters of [A-Za-z0-9._-], so they are
// safe in paths, metric labels and the wire.
inline constexpr size_t kMaxDiskId = 64;
inline bool ValidDiskId(std::string_view id) {
  if (id.empty() || id.size() > kMaxDiskId) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace cohort
