#include "transport/types.h"

namespace cohort::transport {

const char* AdapterTypeName(AdapterType t) {
  switch (t) {
    case AdapterType::kUnknown:
      return "unknown";
    case AdapterType::kLoopback:
      return "loopback";
    case AdapterType::kEthernet:
      return "ethernet";
    case AdapterType::kWireless:
      return "wireless";
    case AdapterType::kTunnel:
      return "tunnel";
    case AdapterType::kOther:
      return "other";
  }
  return "unknown";
}

const char* CosName(Cos c) {
  switch (c) {
    case Cos::kBestEffort:
      return "best_effort";
    case Cos::kBulk:
      return "bulk";
    case Cos::kVideo:
      return "video";
    case Cos::kControl:
      return "control";
  }
  return "control";
}

Result<Cos> ParseCos(std::string_view name) {
  for (Cos c : {Cos::kBestEffort, Cos::kBulk, Cos::kVideo, Cos::kControl}) {
    if (name == CosName(c)) return c;
  }
  return Error(Errc::kInvalidArgument, "unknown class of service '" + std::string(name) +
                                           "' (expected best_effort, bulk, video or control)");
}

uint8_t DscpOf(Cos c) {
  switch (c) {
    case Cos::kBestEffort:
      return 0;
    case Cos::kBulk:
      return 10;
    case Cos::kVideo:
      return 34;
    case Cos::kControl:
      return 48;
  }
  return 0;
}

}  // namespace cohort::transport
