// Prng: the only source of randomness a protocol core may use.
//
// xoshiro256** seeded through splitmix64, so a seed fully determines every draw and a
// simulator run replays exactly. Not cryptographic. One instance per owner; not thread-safe.
#pragma once

#include <cstdint>

#include "base/check.h"

namespace cohort {

class Prng {
 public:
  explicit Prng(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, bound). REQUIRES: bound > 0.
  uint64_t Below(uint64_t bound);
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  int64_t Between(int64_t lo, int64_t hi);
  // True with probability p (0..1).
  bool Chance(double p);
  double Unit();  // [0, 1)

 private:
  uint64_t s_[4];
};

}  // namespace cohort
