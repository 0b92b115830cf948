// Network objects (C11) and the ordering of a service's addresses by priority (C12), free of
// I/O. Subnets group node addresses (address AND mask); networks group subnets and carry a
// service routing table: for each kind of system traffic, the priority of that network.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/endpoint.h"
#include "base/result.h"

namespace cohort::dcm {

// The kinds of system traffic a network's routing table names (RM3).
enum class Service : uint8_t { kMembership, kRegistry, kDistribution, kApi, kGroups, kStreams };
inline constexpr Service kServices[] = {Service::kMembership,   Service::kRegistry,
                                        Service::kDistribution, Service::kApi,
                                        Service::kGroups,       Service::kStreams};
const char* ServiceName(Service s);
Result<Service> ParseService(std::string_view name);

inline constexpr int kMaxPriority = 1000;

struct NetworkDefinition {
  std::string uid;
  std::string name;
  std::map<Service, int> priority;  // absent: 0, the lowest
  bool operator==(const NetworkDefinition&) const = default;
};

struct SubnetDefinition {
  std::string uid;
  Subnet subnet;
  std::string network;    // the network it maps to; "" while unmapped
  bool implicit = false;  // defined by a node that found an adapter on it (C11)
  bool operator==(const SubnetDefinition&) const = default;
};

// 1 to 32 letters, digits, '-', '_' or '.', starting with a letter or digit.
bool ValidNetworkName(std::string_view name);

class NetworkMap {
 public:
  NetworkMap() = default;
  NetworkMap(std::vector<SubnetDefinition> subnets, std::vector<NetworkDefinition> networks);

  // The most specific subnet holding `ip`; nullptr if none does.
  const SubnetDefinition* SubnetOf(uint32_t ip) const;
  const NetworkDefinition* NetworkOf(uint32_t ip) const;
  const NetworkDefinition* FindNetwork(std::string_view name) const;
  const SubnetDefinition* FindSubnet(const Subnet& s) const;
  // The network whose adapters heartbeat each other (L1): the mapped network's name, else
  // the subnet (as defined, or address AND mask) as text.
  std::string LivenessNetwork(const Endpoint& address, uint32_t mask) const;
  // `service`'s priority on the network of `ip`: 0 when unmapped or unset.
  int Priority(uint32_t ip, Service service) const;
  // Every defined subnet with its network's priority for `service` (for the transport).
  std::vector<std::pair<Subnet, int>> Priorities(Service service) const;

  const std::vector<SubnetDefinition>& subnets() const { return subnets_; }
  const std::vector<NetworkDefinition>& networks() const { return networks_; }
  bool operator==(const NetworkMap&) const = default;

 private:
  std::vector<SubnetDefinition> subnets_;    // most specific first
  std::vector<NetworkDefinition> networks_;  // by name
};

// C12: the indexes of `addresses` in the order a client of `service` tries them: highest
// priority of their network first; equal priorities (and unmapped addresses, priority 0)
// keep their given order.
std::vector<size_t> OrderByPriority(const std::vector<uint32_t>& addresses, Service service,
                                    const NetworkMap& map);

}  // namespace cohort::dcm
