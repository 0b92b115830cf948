#include "base/result.h"

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
