#include "resources/spec.h"

#include <algorithm>

namespace cohort::resources {

const char* ClassName(ResourceClass c) { return c == ResourceClass::kOcf ? "ocf" : "process"; }

std::optional<ResourceClass> ParseClass(const std::string& s) {
  if (s == "ocf") return ResourceClass::kOcf;
  if (s == "process") return ResourceClass::kProcess;
  return std::nullopt;
}

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

namespace {

Error Invalid(const std::string& name, const std::string& what) {
  return Error(Errc::kInvalidArgument, "resource " + name + ": " + what);
}

// "<provider>:<type>": each a plain file name, so the agent's path cannot leave the OCF tree.
bool ValidOcfAgent(const std::string& agent) {
  const size_t colon = agent.find(':');
  if (colon == std::string::npos) return false;
  return ValidName(agent.substr(0, colon)) && ValidName(agent.substr(colon + 1));
}

Status ValidTimeouts(const ResourceSpec& s) {
  for (Duration d : {s.timeouts.start, s.timeouts.stop, s.timeouts.monitor}) {
    if (d < Duration::Millis(100) || d > Duration::Seconds(3600)) {
      return Invalid(s.name, "action timeouts must be between 100 ms and 1 hour");
    }
  }
  if (s.monitor_interval < Duration::Millis(100) || s.monitor_interval > Duration::Seconds(86400)) {
    return Invalid(s.name, "monitor interval must be between 100 ms and 1 day");
  }
  return OkStatus();
}

Status ValidReferences(const ResourceSpec& s) {
  for (const auto* list : {&s.with, &s.after, &s.disks}) {
    if (list->size() > kMaxListed) return Invalid(s.name, "too many entries in a list");
    for (const std::string& r : *list) {
      if (!ValidName(r)) return Invalid(s.name, "\"" + r + "\" is not a valid name");
      if (r == s.name && list != &s.disks) return Invalid(s.name, "it cannot depend on itself");
    }
  }
  if (s.content.size() > kMaxListed) return Invalid(s.name, "too many content paths");
  for (const std::string& path : s.content) {
    if (!ValidContentPath(path)) {
      return Invalid(s.name, "content \"" + path + "\" is not a relative path under the root");
    }
  }
  if (s.needs_mbps > kMaxMbps) return Invalid(s.name, "needs_mbps is at most 100000000");
  if (s.allowed.size() > kMaxListed || s.prefer.size() > kMaxListed) {
    return Invalid(s.name, "too many nodes listed");
  }
  if (std::count(s.allowed.begin(), s.allowed.end(), kNoNode) != 0) {
    return Invalid(s.name, "node 0 is not a node");
  }
  for (const auto& [node, score] : s.prefer) {
    if (node == kNoNode) return Invalid(s.name, "node 0 is not a node");
    if (score < -kMaxScore || score > kMaxScore) {
      return Invalid(s.name, "preference scores must be within ±1000000");
    }
  }
  return OkStatus();
}

}  // namespace

bool ValidContentPath(const std::string& path) {
  if (path.empty() || path.size() > 1024 || path.front() == '/') return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Status Validate(const ResourceSpec& s) {
  if (!ValidName(s.name)) {
    return Error(Errc::kInvalidArgument,
                 "resource name \"" + s.name + "\" must be 1-63 letters, digits, '_', '.', '-'");
  }
  if (s.cls == ResourceClass::kOcf && !ValidOcfAgent(s.agent)) {
    return Invalid(s.name, "an OCF agent is named <provider>:<type>, e.g. heartbeat:Dummy");
  }
  if (s.cls == ResourceClass::kProcess &&
      (s.agent.empty() || s.agent.size() > 4096 || s.agent.find('\0') != std::string::npos)) {
    return Invalid(s.name, "a process resource needs a command (at most 4096 bytes)");
  }
  if (s.promotable && s.cls != ResourceClass::kOcf) {
    return Invalid(s.name, "only an OCF resource can be promotable (its agent promotes it)");
  }
  if (s.params.size() > kMaxParams) return Invalid(s.name, "too many parameters");
  for (const auto& [k, v] : s.params) {
    if (!ValidName(k) || k.find('.') != std::string::npos || k.find('-') != std::string::npos) {
      return Invalid(s.name, "parameter name \"" + k + "\" must be letters, digits and '_'");
    }
    if (v.size() > 4096 || v.find('\0') != std::string::npos) {
      return Invalid(s.name, "parameter " + k + " is too long or holds a NUL byte");
    }
  }
  if (auto r = ValidTimeouts(s); !r) return r;
  return ValidReferences(s);
}

}  // namespace cohort::resources
