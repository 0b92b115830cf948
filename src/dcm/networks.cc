#include "dcm/networks.h"

#include <algorithm>
#include <cctype>

namespace cohort::dcm {

const char* ServiceName(Service s) {
  switch (s) {
    case Service::kMembership:
      return "membership";
    case Service::kRegistry:
      return "registry";
    case Service::kDistribution:
      return "distribution";
    case Service::kApi:
      return "api";
    case Service::kGroups:
      return "groups";
    case Service::kStreams:
      return "streams";
  }
  return "?";
}

Result<Service> ParseService(std::string_view name) {
  for (Service s : kServices) {
    if (name == ServiceName(s)) return s;
  }
  return Error(Errc::kInvalidArgument,
               "unknown service '" + std::string(name) +
                   "' (membership, registry, distribution, api, groups or streams)");
}

bool ValidNetworkName(std::string_view name) {
  if (name.empty() || name.size() > 32 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

NetworkMap::NetworkMap(std::vector<SubnetDefinition> subnets,
                       std::vector<NetworkDefinition> networks)
    : subnets_(std::move(subnets)), networks_(std::move(networks)) {
  std::sort(subnets_.begin(), subnets_.end(), [](const auto& a, const auto& b) {
    return a.subnet.length != b.subnet.length ? a.subnet.length > b.subnet.length
                                              : a.subnet < b.subnet;
  });
  std::sort(networks_.begin(), networks_.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
}

const SubnetDefinition* NetworkMap::SubnetOf(uint32_t ip) const {
  for (const SubnetDefinition& s : subnets_) {
    if (s.subnet.Contains(ip)) return &s;
  }
  return nullptr;
}

const NetworkDefinition* NetworkMap::FindNetwork(std::string_view name) const {
  for (const NetworkDefinition& n : networks_) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const SubnetDefinition* NetworkMap::FindSubnet(const Subnet& s) const {
  for (const SubnetDefinition& d : subnets_) {
    if (d.subnet == s) return &d;
  }
  return nullptr;
}

const NetworkDefinition* NetworkMap::NetworkOf(uint32_t ip) const {
  const SubnetDefinition* s = SubnetOf(ip);
  return s == nullptr || s->network.empty() ? nullptr : FindNetwork(s->network);
}

std::string NetworkMap::LivenessNetwork(const Endpoint& address, uint32_t mask) const {
  if (const NetworkDefinition* n = NetworkOf(address.ip)) return n->name;
  if (const SubnetDefinition* s = SubnetOf(address.ip)) return s->subnet.ToString();
  return Subnet::FromAddressMask(address.ip, MaskLength(mask) < 0 ? ~uint32_t{0} : mask).ToString();
}

int NetworkMap::Priority(uint32_t ip, Service service) const {
  const NetworkDefinition* n = NetworkOf(ip);
  if (n == nullptr) return 0;
  auto it = n->priority.find(service);
  return it == n->priority.end() ? 0 : it->second;
}

std::vector<std::pair<Subnet, int>> NetworkMap::Priorities(Service service) const {
  std::vector<std::pair<Subnet, int>> out;
  for (const SubnetDefinition& s : subnets_) {
    // The subnet's own network, not the one its prefix address maps to (a more specific
    // subnet may hold that address).
    int priority = 0;
    if (const NetworkDefinition* n = s.network.empty() ? nullptr : FindNetwork(s.network)) {
      auto it = n->priority.find(service);
      if (it != n->priority.end()) priority = it->second;
    }
    out.emplace_back(s.subnet, priority);
  }
  return out;
}

std::vector<size_t> OrderByPriority(const std::vector<uint32_t>& addresses, Service service,
                                    const NetworkMap& map) {
  std::vector<size_t> order(addresses.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return map.Priority(addresses[a], service) > map.Priority(addresses[b], service);
  });
  return order;
}

}  // namespace cohort::dcm
