// An OCF agent's meta-data (the XML its `meta-data` action prints, OCF 1.0/1.1): the
// parameters it takes and the actions it offers, so that a definition's parameters are
// checked at create as the agent states them. The XML is the agent's output — hostile bytes
// as far as the daemon knows — so this is a bounded scan for the tags it needs, never a
// general XML parser; what it does not understand it refuses in one line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "resources/spec.h"

namespace cohort::resources {

struct OcfParameter {
  std::string name;
  bool required = false;
};

struct OcfMetadata {
  std::string agent_name;  // <resource-agent name="...">
  std::vector<OcfParameter> parameters;
  std::vector<std::string> actions;  // start, stop, monitor, promote, ...
};

inline constexpr size_t kMaxMetadataBytes = 1 << 20;
inline constexpr size_t kMaxOcfParameters = 256;

Result<OcfMetadata> ParseOcfMetadata(std::string_view xml);

// The definition's parameters against the agent's: each required one given, none unknown;
// a promotable definition's agent offers promote and demote.
Status CheckParameters(const ResourceSpec& spec, const OcfMetadata& metadata);

}  // namespace cohort::resources
