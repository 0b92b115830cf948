// toml++ is compiled once, in Debian's shared library, and included only here.
#include "base/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace cohort {
namespace {

const std::set<std::string> kSections = {
    "node",         "cluster", "transport", "timing", "api",       "disk",  "registry",
    "distribution", "log",     "liveness",  "groups", "resources", "stream"};

class Reader {
 public:
  Reader(const toml::table& root, std::string source) : root_(root), source_(std::move(source)) {}

  Error Fail(const toml::node* node, const std::string& key, const std::string& what) const {
    std::string where = source_;
    if (node != nullptr && node->source().begin.line > 0) {
      where += ":" + std::to_string(node->source().begin.line);
    }
    return Error(Errc::kInvalidArgument, where + ": key '" + key + "': " + what);
  }

  const toml::node* Find(const std::string& key) const { return root_.at_path(key).node(); }

  Status Integer(const std::string& key, int64_t lo, int64_t hi, auto* out) const {
    const toml::node* n = Find(key);
    if (n == nullptr) return OkStatus();
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < lo || *v > hi) {
      return Fail(
          n, key,
          "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + Got(n));
    }
    *out = static_cast<std::remove_pointer_t<decltype(out)>>(*v);
    return OkStatus();
  }

  Status String(const std::string& key, std::string* out) const {
    const toml::node* n = Find(key);
    if (n == nullptr) return OkStatus();
    if (!n->is_string()) return Fail(n, key, "expected a string" + Got(n));
    *out = *n->value<std::string>();
    return OkStatus();
  }

  template <typename T, typename Fn>
  Status Array(const std::string& key, std::vector<T>* out, Fn&& parse) const {
    const toml::node* n = Find(key);
    if (n == nullptr) return OkStatus();
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return Fail(n, key, "expected an array" + Got(n));
    out->clear();
    for (size_t i = 0; i < arr->size(); ++i) {
      auto item = parse(*arr->get(i), key + "[" + std::to_string(i) + "]");
      if (!item) return item.error();
      out->push_back(*item);
    }
    return OkStatus();
  }

  static std::string Got(const toml::node* n) {
    std::ostringstream os;
    if (n->is_string()) {
      os << ", got \"" << *n->value<std::string>() << "\"";
    } else if (n->is_table() || n->is_array()) {
      os << ", got " << (n->is_table() ? "a table" : "an array");
    } else {
      n->visit([&](auto&& v) { os << ", got " << v; });
    }
    return os.str();
  }

  const toml::table& root() const { return root_; }

 private:
  const toml::table& root_;
  std::string source_;
};

Status CheckKnownKeys(const Reader& r, const toml::table& table, const std::string& prefix,
                      const std::set<std::string>& known) {
  for (const auto& [k, v] : table) {
    const std::string key(k.str());
    if (!known.count(key)) {
      return r.Fail(&v, prefix.empty() ? key : prefix + "." + key, "unknown key");
    }
  }
  return OkStatus();
}

std::string ResolvePath(const std::string& path, const std::string& source) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  const auto dir = std::filesystem::path(source).parent_path();
  return dir.empty() ? path : (dir / path).string();
}

Status ReadNode(const Reader& r, Config& c) {
  COHORT_TRY(r.Integer("node.id", 1, 65535, &c.node_id));
  COHORT_TRY(r.String("node.name", &c.node_name));
  COHORT_TRY(r.String("node.data_dir", &c.data_dir));
  COHORT_TRY(r.Integer("node.stream_capacity_mbps", 0, 100'000'000, &c.stream_capacity_mbps));
  COHORT_TRY(r.String("node.uid_file", &c.uid_file));
  if (c.uid_file.empty()) {
    return r.Fail(r.Find("node.uid_file"), "node.uid_file", "must not be empty");
  }
  if (c.node_name.empty()) c.node_name = "n" + std::to_string(c.node_id);
  if (c.data_dir.empty()) {
    return r.Fail(r.Find("node"), "node.data_dir", "required: the node's local storage folder");
  }
  return OkStatus();
}

Status ReadRegistry(const Reader& r, Config& c, auto&& node_id, auto&& endpoint) {
  COHORT_TRY(r.Array("registry.servers", &c.registry_servers, node_id));
  COHORT_TRY(r.Integer("registry.heartbeat_ms", 1, 60'000, &c.registry_heartbeat_ms));
  COHORT_TRY(r.Integer("registry.election_ms", 5, 600'000, &c.registry_election_ms));
  COHORT_TRY(r.String("registry.etcd", &c.etcd_binary));
  if (c.registry_election_ms < 5 * c.registry_heartbeat_ms) {
    return r.Fail(r.Find("registry.election_ms"), "registry.election_ms",
                  "must be at least 5 times registry.heartbeat_ms (etcd's rule)");
  }
  for (size_t i = 0; i < c.registry_servers.size(); ++i) {
    if (std::count(c.registry_servers.begin(), c.registry_servers.end(), c.registry_servers[i]) >
        1) {
      return r.Fail(r.Find("registry.servers"), "registry.servers",
                    "node " + std::to_string(c.registry_servers[i]) + " is listed twice");
    }
  }
  if (const toml::node* n = r.Find("registry.server")) {
    const toml::array* servers = n->as_array();
    if (servers == nullptr || !servers->is_array_of_tables()) {
      return r.Fail(n, "registry.server", "expected [[registry.server]] tables");
    }
    for (size_t i = 0; i < servers->size(); ++i) {
      const toml::table& t = *servers->get(i)->as_table();
      const std::string key = "registry.server[" + std::to_string(i) + "]";
      COHORT_TRY(CheckKnownKeys(r, t, key, {"id", "client", "peer"}));
      RegistryServerConfig s;
      for (const char* name : {"id", "client", "peer"}) {
        if (t.get(name) == nullptr) return r.Fail(&t, key + "." + name, "required");
      }
      auto id = node_id(*t.get("id"), key + ".id");
      if (!id) return id.error();
      auto client = endpoint(*t.get("client"), key + ".client");
      if (!client) return client.error();
      auto peer = endpoint(*t.get("peer"), key + ".peer");
      if (!peer) return peer.error();
      s = RegistryServerConfig{*id, *client, *peer};
      if (std::find(c.registry_servers.begin(), c.registry_servers.end(), s.id) ==
          c.registry_servers.end()) {
        return r.Fail(t.get("id"), key + ".id",
                      "node " + std::to_string(s.id) + " is not in registry.servers");
      }
      for (const RegistryServerConfig& other : c.registry_endpoints) {
        if (other.id == s.id) {
          return r.Fail(t.get("id"), key + ".id",
                        "node " + std::to_string(s.id) + " has two [[registry.server]] entries");
        }
      }
      c.registry_endpoints.push_back(s);
    }
  }
  for (NodeId id : c.registry_servers) {
    const bool described = std::any_of(c.registry_endpoints.begin(), c.registry_endpoints.end(),
                                       [&](const RegistryServerConfig& s) { return s.id == id; });
    if (!described) {
      return r.Fail(r.Find("registry.servers"), "registry.servers",
                    "server " + std::to_string(id) +
                        " needs a [[registry.server]] entry with its client and peer addresses");
    }
  }
  return OkStatus();
}

// Array elements: a node id, an endpoint.
auto NodeIdReader(const Reader& r) {
  return [&r](const toml::node& n, const std::string& key) -> Result<NodeId> {
    auto v = n.value<int64_t>();
    if (!n.is_integer() || !v || *v < 1 || *v > 65535) {
      return r.Fail(&n, key, "expected a node id from 1 to 65535" + Reader::Got(&n));
    }
    return static_cast<NodeId>(*v);
  };
}

auto EndpointReader(const Reader& r) {
  return [&r](const toml::node& n, const std::string& key) -> Result<Endpoint> {
    if (!n.is_string()) return r.Fail(&n, key, "expected \"a.b.c.d:port\"" + Reader::Got(&n));
    auto e = Endpoint::Parse(*n.value<std::string>());
    if (!e) return r.Fail(&n, key, e.error().message());
    return e;
  };
}

// One level of [cluster.parent], [cluster.parent.parent], …: `key` names its table.
Result<std::optional<ParentConfig>> ReadParentLevel(const Reader& r, const std::string& key,
                                                    const auto& node_id, const auto& endpoint) {
  const toml::node* n = r.Find(key);
  if (n == nullptr) return std::optional<ParentConfig>();
  if (!n->is_table()) return r.Fail(n, key, "expected a [" + key + "] table");
  COHORT_TRY(CheckKnownKeys(
      r, *n->as_table(), key,
      {"id", "name", "key_file", "listen", "seeds", "priority", "level_factor", "parent"}));
  ParentConfig p;
  COHORT_TRY(r.Integer(key + ".id", 1, 65535, &p.id));
  COHORT_TRY(r.String(key + ".name", &p.name));
  COHORT_TRY(r.String(key + ".key_file", &p.key_file));
  COHORT_TRY(r.Integer(key + ".level_factor", 1, 100, &p.level_factor));
  COHORT_TRY(r.Array(key + ".seeds", &p.seeds, endpoint));
  COHORT_TRY(r.Array(key + ".priority", &p.priority, node_id));
  std::string listen;
  COHORT_TRY(r.String(key + ".listen", &listen));
  for (const auto& [field, missing] : {std::pair<const char*, bool>{"id", p.id == kNoNode},
                                       {"key_file", p.key_file.empty()},
                                       {"listen", listen.empty()}}) {
    if (missing) {
      return r.Fail(n, key + "." + field, "required in [" + key + "] (docs/design/hierarchy.md)");
    }
  }
  auto e = Endpoint::Parse(listen);
  if (!e) return r.Fail(r.Find(key + ".listen"), key + ".listen", e.error().message());
  p.listen = *e;
  if (p.name.empty()) p.name = "parent";
  return std::optional<ParentConfig>(std::move(p));
}

// M14: the chain of ancestors, parent first; a table nests its own parent.
Status ReadParents(const Reader& r, Config& c, const auto& node_id, const auto& endpoint) {
  std::string key = "cluster.parent";
  for (size_t depth = 0;; ++depth) {
    auto level = ReadParentLevel(r, key, node_id, endpoint);
    if (!level) return level.error();
    if (!*level) return OkStatus();
    if (depth == kMaxParentLevels) {
      return r.Fail(r.Find(key), key,
                    "at most " + std::to_string(kMaxParentLevels) + " levels above a cluster");
    }
    c.parents.push_back(std::move(**level));
    key += ".parent";
  }
}

// The levels above read, against the rest of the node's config: timings held to a day,
// listen addresses apart from the node's own and each other's; key files resolved against
// `resolve_against` (the node's file).
Status CheckParents(const Reader& r, Config& c, const std::string& resolve_against) {
  std::string key = "cluster";
  uint64_t factor = 1;
  for (size_t depth = 0; depth < c.parents.size(); ++depth) {
    ParentConfig& p = c.parents[depth];
    key += ".parent";
    // Each level's timings are the cluster's × the factors up to it: held to a day.
    factor *= p.level_factor;
    if (factor * std::max(c.period_ms, c.notify_ms) > kMaxLevelTimingMs) {
      return r.Fail(r.Find(key + ".level_factor"), key + ".level_factor",
                    "the level's period or notification time would exceed a day (the "
                    "cluster's timings × the level factors up to this level)");
    }
    p.key_file = ResolvePath(p.key_file, resolve_against);
    for (const AdapterConfig& a : c.adapters) {
      if (a.listen == p.listen) {
        return r.Fail(
            r.Find(key + ".listen"), key + ".listen",
            "must differ from the node's transport.listen addresses (" + a.listen.ToString() + ")");
      }
    }
    for (size_t below = 0; below < depth; ++below) {
      if (c.parents[below].listen == p.listen) {
        return r.Fail(
            r.Find(key + ".listen"), key + ".listen",
            "must differ from the listen address of the level below (" + p.listen.ToString() + ")");
      }
    }
  }
  return OkStatus();
}

Status ReadCluster(const Reader& r, Config& c) {
  COHORT_TRY(r.String("cluster.name", &c.cluster_name));
  COHORT_TRY(r.String("cluster.key_file", &c.key_file));
  auto node_id = NodeIdReader(r);
  auto endpoint = EndpointReader(r);
  COHORT_TRY(r.Array("cluster.priority", &c.priority, node_id));
  COHORT_TRY(r.Array("cluster.seeds", &c.seeds, endpoint));
  std::string multicast;
  COHORT_TRY(r.String("cluster.multicast", &multicast));
  if (!multicast.empty()) {
    auto e = Endpoint::Parse(multicast);
    if (!e || (e->ip >> 28) != 0xe) {
      return r.Fail(
          r.Find("cluster.multicast"), "cluster.multicast",
          "expected a multicast group \"a.b.c.d:port\" in 224.0.0.0/4, got '" + multicast + "'");
    }
    c.multicast = *e;
  }
  COHORT_TRY(ReadRegistry(r, c, node_id, endpoint));
  COHORT_TRY(ReadParents(r, c, node_id, endpoint));

  std::vector<Endpoint> listen;
  COHORT_TRY(r.Array("transport.listen", &listen, endpoint));
  if (const toml::node* n = r.Find("transport.listen"); n != nullptr && listen.empty()) {
    return r.Fail(n, "transport.listen", "needs at least one address");
  }
  if (!listen.empty()) {
    c.adapters.clear();
    for (const Endpoint& e : listen) c.adapters.push_back(AdapterConfig{e, "control", {}});
  }
  COHORT_TRY(r.String("transport.cipher", &c.cipher));
  if (c.cipher != "auto" && c.cipher != "aes-256-gcm" && c.cipher != "xchacha20-poly1305") {
    return Error(Errc::kInvalidArgument,
                 c.source +
                     ": key 'transport.cipher': expected \"auto\", \"aes-256-gcm\" or "
                     "\"xchacha20-poly1305\"");
  }
  std::string cos = "control";
  COHORT_TRY(r.String("transport.cos", &cos));
  for (auto& a : c.adapters) a.cos = cos;
  uint32_t mtu = 0;
  COHORT_TRY(r.Integer("transport.mtu", 576, 65535, &mtu));
  if (mtu != 0) {
    for (auto& a : c.adapters) a.mtu = mtu;
  }
  COHORT_TRY(r.Integer("transport.request_timeout_ms", 1, 60000, &c.request_timeout_ms));
  COHORT_TRY(r.Integer("transport.probe_ms", 10, 600000, &c.probe_ms));
  COHORT_TRY(r.Integer("transport.exchange_ms", 10, 600000, &c.exchange_ms));
  COHORT_TRY(r.Integer("transport.max_datagram", 576, 65507, &c.max_datagram));

  if (const toml::node* n = r.Find("transport.route")) {
    const toml::array* routes = n->as_array();
    if (routes == nullptr || !routes->is_array_of_tables()) {
      return r.Fail(n, "transport.route", "expected [[transport.route]] tables");
    }
    for (size_t i = 0; i < routes->size(); ++i) {
      const toml::table& t = *routes->get(i)->as_table();
      const std::string key = "transport.route[" + std::to_string(i) + "]";
      COHORT_TRY(CheckKnownKeys(r, t, key, {"subnet", "via"}));
      const toml::node* subnet = t.get("subnet");
      const toml::node* via = t.get("via");
      if (subnet == nullptr || !subnet->is_string()) {
        return r.Fail(&t, key + ".subnet", "required: destination subnet \"a.b.c.d/len\"");
      }
      if (via == nullptr || !via->is_string()) {
        return r.Fail(&t, key + ".via", "required: one of transport.listen");
      }
      auto s = Subnet::Parse(*subnet->value<std::string>());
      if (!s) return r.Fail(subnet, key + ".subnet", s.error().message());
      auto v = Endpoint::Parse(*via->value<std::string>());
      if (!v) return r.Fail(via, key + ".via", v.error().message());
      const bool known = std::any_of(c.adapters.begin(), c.adapters.end(),
                                     [&](const AdapterConfig& a) { return a.listen == *v; });
      if (!known) return r.Fail(via, key + ".via", "is not one of transport.listen");
      c.routes.push_back(RouteConfig{*s, *v});
    }
  }
  return OkStatus();
}

Status ReadRest(const Reader& r, Config& c) {
  COHORT_TRY(r.Integer("timing.period_ms", 1, 600000, &c.period_ms));
  COHORT_TRY(r.Integer("timing.miss_limit", 1, 1000, &c.miss_limit));
  COHORT_TRY(r.Integer("timing.notify_ms", 1, 600000, &c.notify_ms));
  COHORT_TRY(r.Integer("timing.disk_check_ms", 10, 3'600'000, &c.disk_check_ms));
  COHORT_TRY(r.Integer("timing.disk_timeout_ms", 10, 3'600'000, &c.disk_timeout_ms));
  COHORT_TRY(r.Integer("timing.usage_ms", 100, 3'600'000, &c.usage_ms));
  COHORT_TRY(r.Integer("liveness.period_ms", 10, 600000, &c.liveness_period_ms));
  COHORT_TRY(r.Integer("liveness.miss_limit", 1, 1000, &c.liveness_miss_limit));
  COHORT_TRY(r.Integer("liveness.refresh_ms", 100, 3'600'000, &c.liveness_refresh_ms));
  COHORT_TRY(r.Integer("groups.vote_timeout_ms", 10, 10000, &c.groups_vote_timeout_ms));
  COHORT_TRY(r.Integer("resources.lease_ttl_s", 1, 600, &c.resources_lease_ttl_s));
  COHORT_TRY(r.Integer("resources.fence_margin_ms", 100, 600'000, &c.resources_fence_margin_ms));
  COHORT_TRY(r.Integer("resources.alive_ttl_ms", 0, 600'000, &c.resources_alive_ttl_ms));
  COHORT_TRY(r.String("resources.ocf_root", &c.resources_ocf_root));
  COHORT_TRY(r.String("resources.state_dir", &c.resources_state_dir));
  if (c.resources_fence_margin_ms >= c.resources_lease_ttl_s * 1000) {
    return r.Fail(r.Find("resources.fence_margin_ms"), "resources.fence_margin_ms",
                  "must be shorter than the lease (resources.lease_ttl_s)");
  }
  if (c.resources_alive_ttl_ms != 0 &&
      c.resources_alive_ttl_ms < c.resources_fence_margin_ms + c.resources_alive_ttl_ms / 4) {
    return r.Fail(r.Find("resources.alive_ttl_ms"), "resources.alive_ttl_ms",
                  "must exceed resources.fence_margin_ms by two renewals (a quarter of it), or 0");
  }
  std::string api;
  COHORT_TRY(r.String("api.listen", &api));
  if (!api.empty()) {
    auto e = Endpoint::Parse(api);
    if (!e) return r.Fail(r.Find("api.listen"), "api.listen", e.error().message());
    c.api_listen = *e;
  }
  std::string stream;
  COHORT_TRY(r.String("stream.listen", &stream));
  if (!stream.empty()) {
    auto e = Endpoint::Parse(stream);
    if (!e) return r.Fail(r.Find("stream.listen"), "stream.listen", e.error().message());
    c.stream_listen = *e;
  }
  COHORT_TRY(r.Integer("stream.balance_percent", 0, 1000, &c.stream_balance_percent));
  COHORT_TRY(r.Integer("stream.balance_floor_percent", 0, 100, &c.stream_balance_floor_percent));
  COHORT_TRY(
      r.Integer("stream.default_bitrate_kbps", 1, 100'000'000, &c.stream_default_bitrate_kbps));
  if (const toml::node* n = r.Find("disk")) {
    const toml::array* disks = n->as_array();
    if (disks == nullptr || !disks->is_array_of_tables()) {
      return r.Fail(n, "disk", "expected [[disk]] tables");
    }
    for (size_t i = 0; i < disks->size(); ++i) {
      const toml::table& t = *disks->get(i)->as_table();
      const std::string key = "disk[" + std::to_string(i) + "]";
      COHORT_TRY(CheckKnownKeys(r, t, key, {"id", "mount", "probe"}));
      DiskConfig d;
      for (auto [name, field] :
           {std::pair{"id", &d.id}, {"mount", &d.mount}, {"probe", &d.probe}}) {
        const toml::node* v = t.get(name);
        if (v == nullptr || !v->is_string()) {
          return r.Fail(&t, key + "." + name, "required string");
        }
        *field = *v->value<std::string>();
      }
      if (!ValidDiskId(d.id)) {
        return r.Fail(t.get("id"), key + ".id",
                      "expected 1 to 64 letters, digits, '.', '_' or '-', got '" + d.id + "'");
      }
      for (const DiskConfig& other : c.disks) {
        if (other.id == d.id)
          return r.Fail(t.get("id"), key + ".id", "duplicate disk id '" + d.id + "'");
      }
      if (d.probe.empty()) return r.Fail(t.get("probe"), key + ".probe", "must not be empty");
      c.disks.push_back(d);
    }
  }
  COHORT_TRY(r.String("distribution.root", &c.distribution_root));
  COHORT_TRY(r.Integer("distribution.upload_mbps", 0, 1'000'000, &c.distribution_upload_mbps));
  COHORT_TRY(r.Integer("distribution.fanout", 1, 64, &c.distribution_fanout));
  COHORT_TRY(r.Integer("distribution.upload_idle_s", 0, 7 * 86400, &c.distribution_upload_idle_s));
  COHORT_TRY(
      r.Integer("distribution.forget_after_s", 1, 7 * 86400, &c.distribution_forget_after_s));
  COHORT_TRY(r.String("log.level", &c.log_level));
  COHORT_TRY(r.String("log.format", &c.log_format));
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return r.Fail(r.Find("log.level"), "log.level", "expected debug, info, warn or error");
  }
  if (c.log_format != "text" && c.log_format != "json") {
    return r.Fail(r.Find("log.format"), "log.format", "expected text or json");
  }
  return OkStatus();
}

Status CheckKeys(const Reader& r) {
  static const std::map<std::string, std::set<std::string>> kKnown = {
      {"node", {"id", "name", "data_dir", "stream_capacity_mbps", "uid_file"}},
      {"cluster", {"name", "key_file", "priority", "seeds", "multicast", "parent"}},
      {"transport",
       {"listen", "cos", "cipher", "mtu", "request_timeout_ms", "probe_ms", "exchange_ms",
        "max_datagram", "route"}},
      {"timing",
       {"period_ms", "miss_limit", "notify_ms", "disk_check_ms", "disk_timeout_ms", "usage_ms"}},
      {"api", {"listen"}},
      {"stream", {"listen", "balance_percent", "balance_floor_percent", "default_bitrate_kbps"}},
      {"liveness", {"period_ms", "miss_limit", "refresh_ms"}},
      {"groups", {"vote_timeout_ms"}},
      {"resources", {"lease_ttl_s", "fence_margin_ms", "alive_ttl_ms", "ocf_root", "state_dir"}},
      {"registry", {"servers", "server", "heartbeat_ms", "election_ms", "etcd"}},
      {"distribution", {"root", "upload_mbps", "fanout", "upload_idle_s", "forget_after_s"}},
      {"log", {"level", "format"}},
  };
  COHORT_TRY(CheckKnownKeys(r, r.root(), "", kSections));
  for (const auto& [section, keys] : kKnown) {
    const toml::node* n = r.Find(section);
    if (n == nullptr) continue;
    if (!n->is_table()) return r.Fail(n, section, "expected a [" + section + "] table");
    COHORT_TRY(CheckKnownKeys(r, *n->as_table(), section, keys));
  }
  return OkStatus();
}

// The TOML document, or where and why it is not one.
Result<toml::table> ParseToml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Error(Errc::kInvalidArgument, source + ":" + std::to_string(e.source().begin.line) +
                                             ": " + std::string(e.description()));
  }
}

}  // namespace

Result<Config> ParseConfig(const std::string& text, const std::string& source) {
  auto root = ParseToml(text, source);
  if (!root) return root.error();
  Reader r(*root, source);
  Config c;
  c.source = source;
  c.adapters.clear();
  COHORT_TRY(CheckKeys(r));
  COHORT_TRY(ReadNode(r, c));
  COHORT_TRY(ReadCluster(r, c));
  COHORT_TRY(ReadRest(r, c));
  if (c.adapters.empty()) {
    return r.Fail(r.Find("transport"), "transport.listen",
                  "required: at least one \"a.b.c.d:port\" to listen on");
  }
  // No [cluster]: the node runs its API and waits to be defined to a cluster (C4, C7).
  c.has_cluster = r.Find("cluster") != nullptr;
  if (c.has_cluster && c.key_file.empty()) {
    return r.Fail(r.Find("cluster"), "cluster.key_file",
                  "required: the cluster key file made by `cohort keygen`");
  }
  if (!c.has_cluster && !c.registry_servers.empty()) {
    return r.Fail(r.Find("registry"), "registry.servers",
                  "a node with no [cluster] section has no registry servers yet: it learns them "
                  "when it is defined");
  }
  if (c.has_cluster) c.key_file = ResolvePath(c.key_file, source);
  COHORT_TRY(CheckParents(r, c, source));
  c.data_dir = ResolvePath(c.data_dir, source);
  if (!c.resources_state_dir.empty()) {
    c.resources_state_dir = ResolvePath(c.resources_state_dir, source);
  }
  c.uid_file = ResolvePath(c.uid_file, source);
  for (DiskConfig& d : c.disks) {
    d.mount = ResolvePath(d.mount, source);
    d.probe = ResolvePath(d.probe, source);
  }
  if (c.distribution_root.empty()) c.distribution_root = c.data_dir + "/content";
  // No priority list: every node ranks by node id, lowest first, so all nodes agree on the
  // supervisor (a list naming only this node would make each node rank itself first).
  return c;
}

Result<std::vector<ParentConfig>> ParseParents(const std::string& text, const std::string& source,
                                               const Config& base) {
  auto root = ParseToml(text, source);
  if (!root) return root.error();
  Reader r(*root, source);
  COHORT_TRY(CheckKnownKeys(r, r.root(), "", {"cluster"}));
  const toml::node* cluster = r.Find("cluster");
  if (cluster == nullptr || !cluster->is_table()) {
    return Error(Errc::kInvalidArgument,
                 source + ": expected [cluster.parent] (and, nested, its own parents)");
  }
  COHORT_TRY(CheckKnownKeys(r, *cluster->as_table(), "cluster", {"parent"}));
  Config c = base;
  c.parents.clear();
  COHORT_TRY(ReadParents(r, c, NodeIdReader(r), EndpointReader(r)));
  if (c.parents.empty()) {
    return Error(Errc::kInvalidArgument, source + ": expected a [cluster.parent] table");
  }
  COHORT_TRY(CheckParents(r, c, base.source));
  return c.parents;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(Errc::kNotFound, "cannot read config file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str(), path);
}

Config DevConfig(const std::string& data_dir) {
  Config c;
  c.source = "--dev";
  c.node_id = 1;
  c.node_name = "n1";
  c.data_dir = data_dir;
  c.cluster_name = "dev";
  c.key_file = data_dir + "/cluster.key";
  c.priority = {1};
  c.adapters = {AdapterConfig{Endpoint{0x7f000001, 7101}, "control", {}}};
  c.distribution_root = data_dir + "/content";
  c.stream_listen = Endpoint{0x7f000001, 7301};
  return c;
}

}  // namespace cohort
