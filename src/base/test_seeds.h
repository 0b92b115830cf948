// How many seeds a seeded test runs: every one in a plain build; under AddressSanitizer,
// about thirty times slower, a sixth of them and at least three. The sanitizers look for
// memory and undefined-behaviour errors, which the first seeds of each scenario reach; the
// release build runs every seed and scripts/test's sweep 300 more of each scenario.
#pragma once

#include <algorithm>
#include <cstdint>

namespace cohort {

#if defined(__SANITIZE_ADDRESS__)  // GCC
#define COHORT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // Clang
#define COHORT_TEST_SANITIZED 1
#endif
#endif

constexpr uint64_t TestSeeds(uint64_t all) {
#if defined(COHORT_TEST_SANITIZED)
  return std::min<uint64_t>(all, std::max<uint64_t>(3, all / 6));
#else
  return all;
#endif
}

}  // namespace cohort
