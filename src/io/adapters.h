// Adapter discovery (T5): what the OS says about the interface holding a local address:
// netmask, MTU and type. Used once at daemon start to fill this node's address table entry.
#pragma once

#include <string>

#include "base/endpoint.h"
#include "base/result.h"
#include "transport/types.h"

namespace cohort::io {

struct DiscoveredAdapter {
  std::string interface;  // e.g. "eth0"
  uint32_t mask = 0xffffffff;
  uint16_t mtu = 1500;
  transport::AdapterType type = transport::AdapterType::kUnknown;
};

// Finds the interface that has address `ip`. Fails if no interface has it (so a config
// naming an address this machine does not own is refused at start).
Result<DiscoveredAdapter> DiscoverAdapter(uint32_t ip);

}  // namespace cohort::io
