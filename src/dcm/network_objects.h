// Network objects in the registry (C11), as versioned JSON documents under the cluster's
// prefix:
//   /cohort/<id>/networks/<name>        {"uid", "name", "priority": {"<service>": n}}
//   /cohort/<id>/subnets/<a.b.c.d>_<len> {"uid", "prefix", "network", "implicit"}
// Node address definitions are the nodes' adapters under /cohort/<id>/addresses/<node>.
// An edit is planned against the objects as read (with their revisions) into one
// transaction that goes through only if none of them changed meanwhile: every check of an
// edit is here, in one place.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dcm/networks.h"
#include "registry/backend.h"

namespace cohort::dcm::schema {

std::string NetworksPrefix(const std::string& cluster_id);
std::string SubnetsPrefix(const std::string& cluster_id);
std::string NetworkKey(const std::string& cluster_id, const std::string& name);
std::string SubnetKey(const std::string& cluster_id, const Subnet& subnet);

// The network objects as read, and the mod revision of each key (to guard an edit).
struct StoredNetworks {
  NetworkMap map;
  std::map<std::string, int64_t> revisions;
  std::vector<std::string> damaged;  // keys whose documents could not be read: skipped
};
// Reads both prefixes in one revision; Parse takes its answer.
registry::Txn ReadNetworks(const std::string& cluster_id);
StoredNetworks ParseNetworks(const registry::TxnResult& r);

struct NetworkEdit {
  enum class Kind {
    kDefineNetwork,
    kModifyNetwork,
    kUndefineNetwork,
    kDefineSubnet,
    kModifySubnet,
    kUndefineSubnet
  };
  Kind kind = Kind::kDefineNetwork;
  std::string name;                    // the network (network edits)
  std::string new_name;                // kModifyNetwork: its new name ("" keeps it)
  std::map<Service, int> priority;     // define/modify network: these services' priorities
  Subnet subnet;                       // subnet edits
  std::optional<std::string> network;  // define/modify subnet: the network ("" unmaps)
  bool implicit = false;               // kDefineSubnet by a node that found an adapter on it
};
// The transaction that makes `edit` over `stored`, or why it cannot be made. `uid` names a
// new object.
Result<registry::Txn> PlanEdit(const std::string& cluster_id, const StoredNetworks& stored,
                               const NetworkEdit& edit, const std::string& uid);
// What the edit did, for people.
std::string DescribeEdit(const NetworkEdit& edit);

}  // namespace cohort::dcm::schema
