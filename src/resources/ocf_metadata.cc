#include "resources/ocf_metadata.h"

#include <algorithm>
#include <optional>

namespace cohort::resources {
namespace {

Error Bad(const std::string& what) {
  return Error(Errc::kInvalidArgument, "the agent's meta-data: " + what);
}

// The value of attribute `name` in the tag text `tag` ("<parameter name='x' ...>"), if any.
std::optional<std::string> Attribute(std::string_view tag, std::string_view name) {
  size_t at = 0;
  while ((at = tag.find(name, at)) != std::string_view::npos) {
    const bool starts = at > 0 && (tag[at - 1] == ' ' || tag[at - 1] == '\t' ||
                                   tag[at - 1] == '\n' || tag[at - 1] == '\r');
    size_t eq = at + name.size();
    while (eq < tag.size() && (tag[eq] == ' ' || tag[eq] == '\t')) ++eq;
    if (!starts || eq + 1 >= tag.size() || tag[eq] != '=') {
      at += name.size();
      continue;
    }
    size_t open = eq + 1;
    while (open < tag.size() && (tag[open] == ' ' || tag[open] == '\t')) ++open;
    if (open >= tag.size() || (tag[open] != '"' && tag[open] != '\'')) return std::nullopt;
    const size_t close = tag.find(tag[open], open + 1);
    if (close == std::string_view::npos) return std::nullopt;
    return std::string(tag.substr(open + 1, close - open - 1));
  }
  return std::nullopt;
}

// Every tag named `element` ("<element ...>" or "<element>"), as its text up to '>'.
std::vector<std::string_view> Tags(std::string_view xml, std::string_view element) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(element);
  size_t at = 0;
  while ((at = xml.find(open, at)) != std::string_view::npos) {
    const size_t after = at + open.size();
    if (after < xml.size() && (xml[after] == ' ' || xml[after] == '>' || xml[after] == '\t' ||
                               xml[after] == '\n' || xml[after] == '\r' || xml[after] == '/')) {
      const size_t end = xml.find('>', after);
      if (end == std::string_view::npos) break;
      out.push_back(xml.substr(at, end - at + 1));
      at = end;
    } else {
      at = after;
    }
  }
  return out;
}

std::string Listed(const std::vector<OcfParameter>& parameters) {
  std::string out;
  for (const auto& p : parameters) out += (out.empty() ? "" : ", ") + p.name;
  return out.empty() ? "none" : out;
}

}  // namespace

Result<OcfMetadata> ParseOcfMetadata(std::string_view xml) {
  if (xml.size() > kMaxMetadataBytes) return Bad("larger than 1 MiB");
  const auto agents = Tags(xml, "resource-agent");
  if (agents.empty()) return Bad("no <resource-agent> element (is it an OCF agent?)");
  OcfMetadata m;
  m.agent_name = Attribute(agents.front(), "name").value_or("");
  for (std::string_view tag : Tags(xml, "parameter")) {
    auto name = Attribute(tag, "name");
    if (!name || !ValidName(*name)) return Bad("a parameter without a valid name");
    if (m.parameters.size() >= kMaxOcfParameters) return Bad("too many parameters");
    const std::string required = Attribute(tag, "required").value_or("0");
    m.parameters.push_back({*name, required == "1" || required == "true"});
  }
  for (std::string_view tag : Tags(xml, "action")) {
    auto name = Attribute(tag, "name");
    if (!name || !ValidName(*name)) return Bad("an action without a valid name");
    if (std::find(m.actions.begin(), m.actions.end(), *name) == m.actions.end() &&
        m.actions.size() < kMaxOcfParameters) {
      m.actions.push_back(*name);
    }
  }
  return m;
}

Status CheckParameters(const ResourceSpec& spec, const OcfMetadata& metadata) {
  if (spec.promotable) {
    for (const char* action : {"promote", "demote"}) {
      if (std::find(metadata.actions.begin(), metadata.actions.end(), action) ==
          metadata.actions.end()) {
        return Error(Errc::kInvalidArgument, "resource " + spec.name + ": " + spec.agent +
                                                 " offers no " + action +
                                                 " action (its meta-data), so it cannot be "
                                                 "promotable");
      }
    }
  }
  for (const OcfParameter& p : metadata.parameters) {
    if (p.required && spec.params.count(p.name) == 0) {
      return Error(Errc::kInvalidArgument, "resource " + spec.name + ": " + spec.agent +
                                               " requires parameter " + p.name +
                                               " (its meta-data)");
    }
  }
  for (const auto& param : spec.params) {
    const std::string& name = param.first;
    const bool known = std::any_of(metadata.parameters.begin(), metadata.parameters.end(),
                                   [&](const OcfParameter& p) { return p.name == name; });
    if (!known) {
      return Error(Errc::kInvalidArgument,
                   "resource " + spec.name + ": " + spec.agent + " has no parameter " + name +
                       " (its meta-data lists: " + Listed(metadata.parameters) + ")");
    }
  }
  return OkStatus();
}

}  // namespace cohort::resources
