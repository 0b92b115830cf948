#include "dcm/core.h"

#include <algorithm>
#include <limits>
#include <map>

namespace cohort::dcm {

std::vector<NodeId> OrderServers(NodeId self, std::vector<ServerDistance> servers) {
  // Keyed by (-priority, distance): the highest priority, then the nearest, first.
  std::map<std::pair<int, uint32_t>, std::vector<ServerDistance>> by_distance;
  for (const ServerDistance& s : servers) by_distance[{-s.priority, s.distance}].push_back(s);
  std::vector<NodeId> out;
  for (auto& [key, set] : by_distance) {
    std::sort(set.begin(), set.end(), [](const ServerDistance& a, const ServerDistance& b) {
      return a.address != b.address ? a.address < b.address : a.id < b.id;
    });
    const size_t k = set.size();
    for (size_t i = 0; i < k; ++i) out.push_back(set[(self % k + i) % k].id);
  }
  return out;
}

std::vector<RegistryServerConfig> OrderedEndpoints(
    NodeId self, const std::vector<RegistryServerConfig>& all,
    const std::function<ServerRoute(const RegistryServerConfig&)>& route) {
  std::vector<ServerDistance> distances;
  for (const RegistryServerConfig& s : all) {
    if (s.id == self) {
      // Its own server needs no network at all: first whatever the priorities say.
      distances.push_back(ServerDistance{s.id, s.client.ip, 0, std::numeric_limits<int>::max()});
      continue;
    }
    const ServerRoute r = route ? route(s) : ServerRoute{};
    const uint32_t distance = r.hops ? 1u + *r.hops : kUnmeasuredDistance;
    distances.push_back(ServerDistance{s.id, s.client.ip, distance, r.priority});
  }
  std::vector<RegistryServerConfig> out;
  for (NodeId id : OrderServers(self, distances)) {
    out.push_back(*std::find_if(all.begin(), all.end(),
                                [&](const RegistryServerConfig& s) { return s.id == id; }));
  }
  return out;
}

Duration RestartBackoff::OnExit(Instant started, Instant died) {
  if (died - started >= stable_) next_ = first_;
  const Duration wait = next_;
  next_ = std::min(Duration::Nanos(next_.nanos() * 2), max_);
  ++restarts_;
  return wait;
}

std::string MemberName(NodeId id) { return "n" + std::to_string(id); }

std::optional<NodeId> MemberNode(const std::string& name) {
  if (name.size() < 2 || name.size() > 6 || name[0] != 'n') return std::nullopt;
  uint32_t id = 0;
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    id = id * 10 + static_cast<uint32_t>(name[i] - '0');
  }
  if (id == kNoNode || id > std::numeric_limits<NodeId>::max()) return std::nullopt;
  return static_cast<NodeId>(id);
}

std::string Scheme(const EtcdLaunch& launch) {
  return launch.tls_dir.empty() ? "http://" : "https://";
}

namespace {

Result<RegistryServerConfig> Self(const EtcdLaunch& l) {
  const auto self = std::find_if(l.members.begin(), l.members.end(),
                                 [&](const RegistryServerConfig& s) { return s.id == l.self; });
  if (self == l.members.end()) {
    return Error(Errc::kInvalidArgument,
                 "node " + std::to_string(l.self) + " is not one of the registry servers");
  }
  return *self;
}

std::string InitialCluster(const EtcdLaunch& l) {
  std::string cluster;
  for (const RegistryServerConfig& s : l.members) {
    cluster +=
        (cluster.empty() ? "" : ",") + MemberName(s.id) + "=" + Scheme(l) + s.peer.ToString();
  }
  return cluster;
}

// The same certificate serves both roles: members dial each other as clients.
std::vector<std::string> TlsArguments(const EtcdLaunch& l) {
  if (l.tls_dir.empty()) return {};
  const std::string ca = l.tls_dir + "/ca.pem";
  const std::string cert = l.tls_dir + "/node.pem";
  const std::string key = l.tls_dir + "/node.key";
  return {
      "--cert-file=" + cert,          "--key-file=" + key,        "--trusted-ca-file=" + ca,
      "--client-cert-auth",           "--peer-cert-file=" + cert, "--peer-key-file=" + key,
      "--peer-trusted-ca-file=" + ca, "--peer-client-cert-auth",
  };
}

}  // namespace

EtcdLaunch LaunchFor(const Config& c) {
  EtcdLaunch l;
  l.binary = c.etcd_binary;
  l.self = c.node_id;
  l.data_dir = c.data_dir + "/registry/etcd";
  l.tls_dir = c.data_dir + "/registry/tls";
  l.cluster_token = "cohort-" + c.cluster_name;
  l.members = c.registry_endpoints;
  l.heartbeat_ms = c.registry_heartbeat_ms;
  l.election_ms = c.registry_election_ms;
  return l;
}

Result<std::vector<std::string>> RestoreArguments(const EtcdLaunch& l,
                                                  const std::string& snapshot) {
  auto self = Self(l);
  if (!self) return self.error();
  return std::vector<std::string>{
      l.binary,
      "snapshot",
      "restore",
      snapshot,
      "--name=" + MemberName(l.self),
      "--data-dir=" + l.data_dir,
      "--initial-cluster=" + InitialCluster(l),
      "--initial-cluster-token=" + l.cluster_token,
      "--initial-advertise-peer-urls=" + Scheme(l) + self->peer.ToString(),
  };
}

Result<std::vector<std::string>> EtcdArguments(const EtcdLaunch& l) {
  auto self = Self(l);
  if (!self) return self.error();
  const std::string cluster = InitialCluster(l);
  const std::string client = Scheme(l) + self->client.ToString();
  const std::string peer = Scheme(l) + self->peer.ToString();
  std::vector<std::string> args{
      l.binary,
      "--name=" + MemberName(l.self),
      "--data-dir=" + l.data_dir,
      "--listen-client-urls=" + client,
      "--advertise-client-urls=" + client,
      "--listen-peer-urls=" + peer,
      "--initial-advertise-peer-urls=" + peer,
      "--initial-cluster=" + cluster,
      std::string("--initial-cluster-state=") + (l.join_existing ? "existing" : "new"),
      "--initial-cluster-token=" + l.cluster_token,
      "--heartbeat-interval=" + std::to_string(l.heartbeat_ms),
      "--election-timeout=" + std::to_string(l.election_ms),
      // A server cut off campaigns in vain; without pre-vote its raised term would depose a
      // working leader when it returns (etcd 3.5 turns it on by default; 3.4 does not).
      "--pre-vote=true",
      "--logger=zap",
      "--log-outputs=stderr",
  };
  for (std::string& a : TlsArguments(l)) args.push_back(std::move(a));
  return args;
}

bool ValidClusterId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool ValidClusterName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

}  // namespace cohort::dcm
