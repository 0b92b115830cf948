#include "dcm/network_objects.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "dcm/schema.h"

namespace cohort::dcm::schema {
namespace {

using nlohmann::json;
using registry::Compare;
using registry::RequestOp;

std::optional<NetworkDefinition> ParseNetwork(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("name") || !doc["name"].is_string() ||
      !doc.contains("uid") || !doc["uid"].is_string()) {
    return std::nullopt;
  }
  NetworkDefinition n{doc["uid"].get<std::string>(), doc["name"].get<std::string>(), {}};
  if (!ValidNetworkName(n.name)) return std::nullopt;
  if (doc.contains("priority")) {
    if (!doc["priority"].is_object()) return std::nullopt;
    for (const auto& [service, value] : doc["priority"].items()) {
      auto s = ParseService(service);
      if (!s || !value.is_number_integer()) return std::nullopt;
      const int p = value.get<int>();
      if (p < 0 || p > kMaxPriority) return std::nullopt;
      n.priority[*s] = p;
    }
  }
  return n;
}

std::optional<SubnetDefinition> ParseSubnet(const std::string& text) {
  const json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("prefix") || !doc["prefix"].is_string() ||
      !doc.contains("uid") || !doc["uid"].is_string()) {
    return std::nullopt;
  }
  auto subnet = Subnet::Parse(doc["prefix"].get<std::string>());
  if (!subnet) return std::nullopt;
  SubnetDefinition s{doc["uid"].get<std::string>(), *subnet, "", false};
  if (doc.contains("network") && doc["network"].is_string()) {
    s.network = doc["network"].get<std::string>();
  }
  if (!s.network.empty() && !ValidNetworkName(s.network)) return std::nullopt;
  s.implicit = doc.value("implicit", false);
  return s;
}

std::string NetworkDocument(const NetworkDefinition& n) {
  json priority = json::object();
  for (const auto& [service, p] : n.priority) priority[ServiceName(service)] = p;
  return Document({{"uid", n.uid}, {"name", n.name}, {"priority", priority}});
}

std::string SubnetDocument(const SubnetDefinition& s) {
  return Document({{"uid", s.uid},
                   {"prefix", s.subnet.ToString()},
                   {"network", s.network},
                   {"implicit", s.implicit}});
}

// The key read at its revision still is (0: still absent).
void Guard(registry::Txn& t, const StoredNetworks& stored, const std::string& key) {
  auto it = stored.revisions.find(key);
  t.compares.push_back({key, Compare::Target::kModRevision, Compare::Op::kEqual, "",
                        it == stored.revisions.end() ? 0 : it->second});
}

void Put(registry::Txn& t, const std::string& key, std::string value) {
  t.success.push_back({RequestOp::Kind::kPut, key, std::move(value), false});
}

Status CheckPriorities(const std::map<Service, int>& priority) {
  for (const auto& [service, p] : priority) {
    if (p < 0 || p > kMaxPriority) {
      return Error(Errc::kInvalidArgument, std::string("the priority of ") + ServiceName(service) +
                                               " must be from 0 to " +
                                               std::to_string(kMaxPriority));
    }
  }
  return OkStatus();
}

Result<registry::Txn> PlanNetworkEdit(const std::string& id, const StoredNetworks& stored,
                                      const NetworkEdit& e, const std::string& uid) {
  const NetworkMap& map = stored.map;
  if (!ValidNetworkName(e.name)) {
    return Error(
        Errc::kInvalidArgument,
        "bad network name '" + e.name +
            "': 1 to 32 letters, digits, '-', '_' or '.', starting with a letter or digit");
  }
  COHORT_TRY(CheckPriorities(e.priority));
  const NetworkDefinition* found = map.FindNetwork(e.name);
  registry::Txn t;
  const std::string key = NetworkKey(id, e.name);
  Guard(t, stored, key);
  if (e.kind == NetworkEdit::Kind::kDefineNetwork) {
    if (found) return Error(Errc::kAlreadyExists, "network " + e.name + " is already defined");
    Put(t, key, NetworkDocument({uid, e.name, e.priority}));
    return t;
  }
  if (!found) return Error(Errc::kNotFound, "no network " + e.name + " is defined");
  std::vector<const SubnetDefinition*> mapped;
  for (const SubnetDefinition& s : map.subnets()) {
    if (s.network == e.name) mapped.push_back(&s);
  }
  if (e.kind == NetworkEdit::Kind::kUndefineNetwork) {
    if (!mapped.empty()) {
      return Error(Errc::kInvalidArgument,
                   "subnet " + mapped.front()->subnet.ToString() + " maps to network " + e.name +
                       ": map it elsewhere (`subnet modify`) or undefine it first");
    }
    t.success.push_back({RequestOp::Kind::kDelete, key, "", false});
    return t;
  }
  NetworkDefinition changed = *found;
  for (const auto& [service, p] : e.priority) changed.priority[service] = p;
  if (e.new_name.empty() || e.new_name == e.name) {
    Put(t, key, NetworkDocument(changed));
    return t;
  }
  // A rename moves the document and every subnet that maps to it, in one transaction.
  if (!ValidNetworkName(e.new_name)) {
    return Error(Errc::kInvalidArgument, "bad network name '" + e.new_name + "'");
  }
  if (map.FindNetwork(e.new_name)) {
    return Error(Errc::kAlreadyExists, "network " + e.new_name + " is already defined");
  }
  changed.name = e.new_name;
  const std::string new_key = NetworkKey(id, e.new_name);
  Guard(t, stored, new_key);
  t.success.push_back({RequestOp::Kind::kDelete, key, "", false});
  Put(t, new_key, NetworkDocument(changed));
  for (const SubnetDefinition* s : mapped) {
    const std::string skey = SubnetKey(id, s->subnet);
    Guard(t, stored, skey);
    SubnetDefinition moved = *s;
    moved.network = e.new_name;
    Put(t, skey, SubnetDocument(moved));
  }
  return t;
}

Result<registry::Txn> PlanSubnetEdit(const std::string& id, const StoredNetworks& stored,
                                     const NetworkEdit& e, const std::string& uid) {
  const NetworkMap& map = stored.map;
  if (e.subnet.length == 0) {
    return Error(Errc::kInvalidArgument, "a subnet needs a prefix length from 1 to 32");
  }
  if (e.network && !e.network->empty() && !map.FindNetwork(*e.network)) {
    return Error(Errc::kNotFound, "no network " + *e.network + " is defined (`network define`)");
  }
  const SubnetDefinition* found = map.FindSubnet(e.subnet);
  registry::Txn t;
  const std::string key = SubnetKey(id, e.subnet);
  Guard(t, stored, key);
  if (e.network && !e.network->empty()) {
    // Written again, unchanged: its revision moves, so an undefine or a rename of it that
    // read the subnets before this edit fails instead of leaving this subnet on no network.
    const std::string nkey = NetworkKey(id, *e.network);
    Guard(t, stored, nkey);
    Put(t, nkey, NetworkDocument(*map.FindNetwork(*e.network)));
  }
  switch (e.kind) {
    case NetworkEdit::Kind::kDefineSubnet:
      if (found) {
        return Error(Errc::kAlreadyExists,
                     "subnet " + e.subnet.ToString() + " is already defined" +
                         (found->implicit ? " (by a node's adapter): use `subnet modify`" : ""));
      }
      Put(t, key, SubnetDocument({uid, e.subnet, e.network.value_or(""), e.implicit}));
      return t;
    case NetworkEdit::Kind::kModifySubnet: {
      if (!found) return Error(Errc::kNotFound, "no subnet " + e.subnet.ToString() + " is defined");
      SubnetDefinition changed = *found;
      if (e.network) changed.network = *e.network;
      changed.implicit = false;  // an operator owns it now
      Put(t, key, SubnetDocument(changed));
      return t;
    }
    default:
      if (!found) return Error(Errc::kNotFound, "no subnet " + e.subnet.ToString() + " is defined");
      t.success.push_back({RequestOp::Kind::kDelete, key, "", false});
      return t;
  }
}

}  // namespace

std::string NetworksPrefix(const std::string& id) { return Prefix(id) + "networks/"; }
std::string SubnetsPrefix(const std::string& id) { return Prefix(id) + "subnets/"; }
std::string NetworkKey(const std::string& id, const std::string& name) {
  return NetworksPrefix(id) + name;
}
std::string SubnetKey(const std::string& id, const Subnet& subnet) {
  return SubnetsPrefix(id) + Ipv4ToString(subnet.prefix) + "_" + std::to_string(subnet.length);
}

registry::Txn ReadNetworks(const std::string& id) {
  registry::Txn t;
  t.success.push_back({RequestOp::Kind::kGet, NetworksPrefix(id), "", true});
  t.success.push_back({RequestOp::Kind::kGet, SubnetsPrefix(id), "", true});
  return t;
}

StoredNetworks ParseNetworks(const registry::TxnResult& r) {
  StoredNetworks stored;
  std::vector<NetworkDefinition> networks;
  std::vector<SubnetDefinition> subnets;
  for (size_t i = 0; i < r.results.size() && i < 2; ++i) {
    for (const registry::KeyValue& kv : r.results[i].kvs) {
      stored.revisions[kv.key] = kv.mod_revision;
      bool ok = false;
      if (i == 0) {
        auto n = ParseNetwork(kv.value);
        ok = n && kv.key.ends_with("/" + n->name);
        if (ok) networks.push_back(std::move(*n));
      } else {
        auto s = ParseSubnet(kv.value);
        ok = s.has_value();
        if (ok) subnets.push_back(std::move(*s));
      }
      if (!ok) stored.damaged.push_back(kv.key);
    }
  }
  stored.map = NetworkMap(std::move(subnets), std::move(networks));
  return stored;
}

Result<registry::Txn> PlanEdit(const std::string& cluster_id, const StoredNetworks& stored,
                               const NetworkEdit& edit, const std::string& uid) {
  using K = NetworkEdit::Kind;
  const bool network = edit.kind == K::kDefineNetwork || edit.kind == K::kModifyNetwork ||
                       edit.kind == K::kUndefineNetwork;
  return network ? PlanNetworkEdit(cluster_id, stored, edit, uid)
                 : PlanSubnetEdit(cluster_id, stored, edit, uid);
}

std::string DescribeEdit(const NetworkEdit& e) {
  using K = NetworkEdit::Kind;
  const std::string subnet = "subnet " + e.subnet.ToString();
  const std::string mapped =
      e.network ? (e.network->empty() ? " (unmapped)" : " on network " + *e.network) : "";
  switch (e.kind) {
    case K::kDefineNetwork:
      return "network " + e.name + " defined";
    case K::kModifyNetwork:
      return "network " + e.name + " modified" +
             (e.new_name.empty() || e.new_name == e.name ? "" : ": now " + e.new_name);
    case K::kUndefineNetwork:
      return "network " + e.name + " undefined";
    case K::kDefineSubnet:
      return subnet + " defined" + mapped;
    case K::kModifySubnet:
      return subnet + " modified" + mapped;
    case K::kUndefineSubnet:
      return subnet + " undefined";
  }
  return "";
}

}  // namespace cohort::dcm::schema
