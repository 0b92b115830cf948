#include "base/check.h"

#include <cstdio>
#include <cstdlib>

#include "base/result.h"

namespace cohort::internal {

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "CHECK failed: %s at %s:%d\n", condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace cohort::internal

namespace cohort {

const char* ErrcName(Errc code) {
  switch (code) {
    case Errc::kOk:
      return "ok";
    case Errc::kInvalidArgument:
      return "invalid argument";
    case Errc::kNotFound:
      return "not found";
    case Errc::kAlreadyExists:
      return "already exists";
    case Errc::kMalformed:
      return "malformed";
    case Errc::kIo:
      return "i/o error";
    case Errc::kTimeout:
      return "timeout";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kPermission:
      return "permission denied";
    case Errc::kInternal:
      return "internal error";
  }
  return "unknown";
}

}  // namespace cohort
