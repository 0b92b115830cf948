// The runtime's clock: monotonic time as an Instant for the protocol cores, and wall-clock
// milliseconds for incarnation numbers. Thread-safe.
#pragma once

#include <chrono>

#include "base/time.h"

namespace cohort::io {

inline Instant SteadyNow() {
  return Instant::FromNanos(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count());
}

inline uint64_t WallMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace cohort::io
