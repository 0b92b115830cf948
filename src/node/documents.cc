#include "node/documents.h"

#include <algorithm>

#include "base/digest.h"

namespace cohort::node {
namespace {

using nlohmann::json;

std::string NameOf(const Node& node, NodeId id) {
  return id == node.config().node_id ? node.config().node_name : "n" + std::to_string(id);
}

json OrNull(NodeId id) { return id == kNoNode ? json(nullptr) : json(id); }

double Round1(double v) { return static_cast<double>(static_cast<int64_t>(v * 10 + 0.5)) / 10; }

}  // namespace

json MembersDocument(const Node& node) {
  const auto& map = node.membership().map();
  const auto& table = node.transport().table();
  json members = json::array();
  auto addresses = [&](NodeId id) {
    json a = json::array();
    if (const auto* e = table.Find(id)) {
      for (const auto& info : e->addresses) a.push_back(info.address.ToString());
    }
    return a;
  };
  for (const auto& [id, member] : map.members) {
    members.push_back({{"id", id},
                       {"name", NameOf(node, id)},
                       {"state", membership::MemberStateName(member.state)},
                       {"addresses", addresses(id)},
                       {"supervisor", id == map.supervisor},
                       {"incarnation", member.incarnation}});
  }
  // Nodes the address table knows that the map does not list yet are joining.
  for (const auto& [id, entry] : table.entries()) {
    if (map.Find(id) != nullptr) continue;
    members.push_back({{"id", id},
                       {"name", NameOf(node, id)},
                       {"state", "joining"},
                       {"addresses", addresses(id)},
                       {"supervisor", false},
                       {"incarnation", entry.incarnation}});
  }
  std::sort(members.begin(), members.end(),
            [](const json& a, const json& b) { return a["id"] < b["id"]; });
  return json{{"cluster", node.config().cluster_name},
              {"supervisor", OrNull(map.supervisor)},
              {"map_version", map.version},
              {"map_digest", HexDigest(map.Digest())},
              {"members", members}};
}

namespace {

// Topology: connectivity of every listed node as this node's transport sees it, and each
// adapter's state as liveness knows it.
json TopologyNodes(const Node& node) {
  const auto& map = node.membership().map();
  const NodeId self = node.config().node_id;
  json nodes = json::array();
  for (const auto& [id, member] : map.members) {
    json addresses = json::array();
    for (const auto& view : node.transport().View()) {
      if (view.id != id) continue;
      for (const auto& a : view.addresses) {
        addresses.push_back(
            {{"address", a.info.address.ToString()},
             {"status", id == self ? "local" : (a.reachable ? "reachable" : "unreachable")},
             {"preferred", a.preferred},
             {"liveness",  // L1: whether any other node hears this adapter
              liveness::AdapterStateName(node.liveness().AdapterStateOf(a.info.address))}});
      }
    }
    nodes.push_back({{"id", id},
                     {"name", NameOf(node, id)},
                     {"state", membership::MemberStateName(member.state)},
                     {"addresses", addresses}});
  }
  return nodes;
}

json TopologyDisks(const membership::ClusterMap& map) {
  json disks = json::array();
  for (const auto& [id, disk] : map.disks) {
    json access = json::array();
    for (const auto& [nid, path] : disk.paths) {
      const auto* m = map.Find(nid);
      access.push_back({{"node", nid},
                        {"path", membership::PathStateName(path.state)},
                        {"node_state", m ? membership::MemberStateName(m->state) : "unknown"}});
    }
    disks.push_back(
        {{"id", id}, {"state", membership::DiskStateName(map.StateOf(disk))}, {"access", access}});
  }
  return disks;
}

json NodeUsageRow(const Node& node, const membership::UsageRow& row) {
  return {{"id", row.node},
          {"name", NameOf(node, row.node)},
          {"capacity_mbps",
           row.usage.capacity_mbps == 0 ? json(nullptr) : json(row.usage.capacity_mbps)},
          {"tx_mbps", Round1(static_cast<double>(row.usage.tx_bps) / 1e6)},
          {"rx_mbps", Round1(static_cast<double>(row.usage.rx_bps) / 1e6)},
          {"load", static_cast<double>(row.usage.load_milli) / 1000.0},
          {"age_ms", row.age.millis()}};
}

// Per disk: capacity from the freshest report of a node whose path works; load is the
// busiest device any node with access saw.
struct DiskAggregate {
  const membership::DiskUsage* freshest = nullptr;
  Duration freshest_age = Duration::Max();
  uint16_t busy = membership::kUnknownBusy;
  uint32_t probe_micros = 0;

  void Add(const membership::ClusterMap& map, const membership::UsageRow& row,
           const membership::DiskUsage& d) {
    bool path_ok = true;
    if (const auto entry = map.disks.find(d.disk); entry != map.disks.end()) {
      auto p = entry->second.paths.find(row.node);
      path_ok = p == entry->second.paths.end() || p->second.state == membership::PathState::kOk;
    }
    if (path_ok && d.total_bytes > 0 && row.age < freshest_age) {
      freshest = &d;
      freshest_age = row.age;
    }
    if (d.busy_permille != membership::kUnknownBusy &&
        (busy == membership::kUnknownBusy || d.busy_permille > busy)) {
      busy = d.busy_permille;
    }
    probe_micros = std::max(probe_micros, d.probe_micros);
  }

  json Document(const membership::ClusterMap& map, const std::string& id) const {
    const auto entry = map.disks.find(id);
    json one{
        {"id", id},
        {"state",
         entry == map.disks.end() ? "ok" : membership::DiskStateName(map.StateOf(entry->second))},
        {"total_bytes", nullptr},
        {"free_bytes", nullptr},
        {"used_percent", nullptr},
        {"busy_percent",
         busy == membership::kUnknownBusy ? json(nullptr) : json(static_cast<double>(busy) / 10.0)},
        {"probe_ms", static_cast<double>(probe_micros) / 1000.0}};
    if (freshest != nullptr) {
      const auto& d = *freshest;
      one["total_bytes"] = d.total_bytes;
      one["free_bytes"] = d.free_bytes;
      one["used_percent"] = Round1(
          100.0 * static_cast<double>(d.total_bytes - std::min(d.free_bytes, d.total_bytes)) /
          static_cast<double>(d.total_bytes));
    }
    return one;
  }
};

// The supervisor's node and disk usage tables, or why there are none.
void AddUsage(const Node& node, const std::optional<membership::UsageReply>& usage, json& doc) {
  const auto& map = node.membership().map();
  json node_usage = json::array();
  json disk_usage = json::array();
  if (!usage || usage->supervisor == kNoNode) {
    doc["usage_from"] = nullptr;
    doc["usage_error"] = !usage ? "the supervisor did not answer in time"
                                : "no supervisor: this node is not in a cluster";
  } else {
    doc["usage_from"] = usage->supervisor;
    std::map<std::string, DiskAggregate> disks;
    for (const auto& row : usage->rows) {
      node_usage.push_back(NodeUsageRow(node, row));
      for (const auto& d : row.usage.disks) disks[d.disk].Add(map, row, d);
    }
    for (const auto& [id, agg] : disks) disk_usage.push_back(agg.Document(map, id));
  }
  doc["node_usage"] = node_usage;
  doc["disk_usage"] = disk_usage;
}

}  // namespace

json TablesDocument(const Node& node, const std::optional<membership::UsageReply>& usage) {
  const auto& map = node.membership().map();
  json doc{{"cluster", node.config().cluster_name},
           {"supervisor", OrNull(map.supervisor)},
           {"map_version", map.version},
           {"seen_from", node.config().node_id},
           {"topology", {{"nodes", TopologyNodes(node)}, {"disks", TopologyDisks(map)}}},
           {"cluster_map", MembersDocument(node)["members"]}};
  AddUsage(node, usage, doc);
  return doc;
}

json AddressesDocument(const Node& node) {
  const auto& t = node.transport();
  json nodes = json::array();
  const Instant now = node.Now();
  for (const auto& n : t.View()) {
    json addrs = json::array();
    for (const auto& a : n.addresses) {
      json entry{{"address", a.info.address.ToString()},
                 {"status", a.reachable ? "reachable" : "unreachable"},
                 {"preferred", a.preferred},
                 {"type", transport::AdapterTypeName(a.info.type)},
                 {"mtu", a.info.mtu},
                 {"mask", Ipv4ToString(a.info.mask)},
                 {"cos", transport::CosName(a.info.cos)}};
      if (a.last_heard != Instant()) {
        entry["last_heard_ms_ago"] = (now - a.last_heard).millis();
      }
      if (a.hops) entry["hops"] = *a.hops;
      addrs.push_back(entry);
    }
    nodes.push_back({{"id", n.id},
                     {"incarnation", n.incarnation},
                     {"revision", n.revision},
                     {"self", n.id == t.self()},
                     {"addresses", addrs}});
  }
  return json{{"version", t.table().version()},
              {"digest", HexDigest(t.table().digest())},
              {"nodes", nodes}};
}

}  // namespace cohort::node
