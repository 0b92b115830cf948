// CHECK: programmer-error assertions that stay on in release builds (TigerStyle).
// A failed CHECK prints the condition and location to stderr and aborts. Never use it on
// untrusted input: decoders return errors instead.
#pragma once

namespace cohort::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace cohort::internal

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) ::cohort::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (0)
