#include "base/digest.h"

#include <cstdio>

namespace cohort {

std::string HexDigest(uint64_t digest) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(digest));
  return buf;
}

}  // namespace cohort
