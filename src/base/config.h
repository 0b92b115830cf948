// Config: a node's configuration, loaded from a TOML file (INTERFACE.md "Configuration").
//
// Every error names the file, the line and the key at fault, e.g.
//   "n1.toml:3: key 'node.id': expected an integer from 1 to 65535, got 0".
// Unknown keys are errors too, so a typo is never silently ignored. Plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/endpoint.h"
#include "base/ids.h"
#include "base/result.h"

namespace cohort {

struct AdapterConfig {
  Endpoint listen;
  std::string cos = "control";  // class of service (T7): sets DSCP on sent packets
  std::optional<uint32_t> mtu;  // overrides the discovered MTU
};

struct RouteConfig {
  Subnet subnet;  // destination subnet
  Endpoint via;   // local adapter (one of transport.listen) used to reach it (T4)
};

struct DiskConfig {
  std::string id;
  std::string mount;
  std::string probe;
};

// Where one registry server's etcd listens (R1): clients connect to `client`, the other
// servers' etcd to `peer`.
struct RegistryServerConfig {
  NodeId id = kNoNode;
  Endpoint client;
  Endpoint peer;
  bool operator==(const RegistryServerConfig&) const = default;
};

// M14: one level above the cluster: the parent cluster, or (nested) the parent's parent.
// The daemon supervising the level below runs the node that stands for it here
// (docs/design/hierarchy.md); every node names where it would listen.
struct ParentConfig {
  NodeId id = kNoNode;   // the level below's node id in this cluster
  std::string name;      // this cluster's name
  std::string key_file;  // this cluster's key; relative to the config file
  Endpoint listen;       // this daemon's address here, while it holds the node
  std::vector<Endpoint> seeds;
  std::vector<NodeId> priority;
  uint32_t level_factor = 3;  // period and notification time: the level below's × it
};
inline constexpr size_t kMaxParentLevels = 4;
inline constexpr uint64_t kMaxLevelTimingMs = 86'400'000;

struct Config {
  std::string source = "<built-in>";  // file the config came from, for messages

  NodeId node_id = 1;
  std::string node_name;
  std::string data_dir;
  uint32_t stream_capacity_mbps = 0;  // M12 node usage; 0: the adapters' link speed if known
  // C4: the file holding this OS instance's unique id (the original UID). Several nodes on
  // one machine (tests, `cohort dev up`) each name their own.
  std::string uid_file = "/etc/machine-id";

  // False when the file has no [cluster] section: the node waits to be defined (C7), and
  // once defined takes its cluster from local storage (dcm/standby.h).
  bool has_cluster = true;
  bool defined_at_run_time = false;  // the cluster came from local storage (C7)
  // The cluster's id when local storage knows it (dcm/clusters.h); "" for a file's cluster
  // before its first join, which learns it from the registry.
  std::string cluster_id;
  std::string cluster_name = "cohort";
  std::string key_file;  // relative paths are relative to the config file
  std::vector<NodeId> priority;
  std::vector<Endpoint> seeds;
  // M14: the levels above this cluster, its parent first ([cluster.parent], then
  // [cluster.parent.parent], …); empty: this cluster has no parent.
  std::vector<ParentConfig> parents;
  bool parents_at_run_time = false;   // set by `cohort cluster parent set` (dcm/stored_parent.h)
  std::optional<Endpoint> multicast;  // M2: the bus's multicast group; unset: unicast fan-out

  std::vector<AdapterConfig> adapters;
  std::vector<RouteConfig> routes;
  uint32_t request_timeout_ms = 100;  // T3: per-attempt reply deadline
  uint32_t probe_ms = 500;            // T3: probe period for unreachable addresses
  uint32_t exchange_ms = 250;         // T5: address-table exchange period
  uint32_t max_datagram = 9216;       // larger datagrams are rejected as too_large
  // T8: the AEAD this node seals with: "auto" (AES-256-GCM where the CPU has AES-NI, else
  // XChaCha20-Poly1305), "aes-256-gcm" or "xchacha20-poly1305". Every node opens both.
  std::string cipher = "auto";

  uint32_t period_ms = 100;
  uint32_t miss_limit = 3;
  uint32_t notify_ms = 300;
  uint32_t disk_check_ms = 1000;    // M11: how often each disk's probe file is checked
  uint32_t disk_timeout_ms = 5000;  // a check still running after this counts as failed
  uint32_t usage_ms = 2000;         // M12: usage report period
  // L1: every adapter's heartbeat period, the periods of grace after a heartbeat is due, and
  // how often the node's row of the path matrix is broadcast unchanged.
  uint32_t liveness_period_ms = 100;
  uint32_t liveness_miss_limit = 3;
  uint32_t liveness_refresh_ms = 5000;
  // G2: a provider that has not voted this long gets its group's default vote (at most
  // 10 s: clients wait 30 s for an outcome). The coordinator's applies: set it alike.
  uint32_t groups_vote_timeout_ms = 500;
  // RM1/M13 (docs/design/resources.md, "Margins"): the node's registry lease, and how long
  // before it could end the node stops its resources. The margin must exceed the slowest
  // stop; the lease must exceed the margin plus a few renewals.
  uint32_t resources_lease_ttl_s = 4;
  uint32_t resources_fence_margin_ms = 2500;
  // Fast takeover (docs/design/resources.md, "Fast takeover"): 0 off; else the alive key's
  // TTL, above the margin plus a few renewals (every eighth of it).
  uint32_t resources_alive_ttl_ms = 0;
  std::string resources_ocf_root = "/usr/lib/ocf";
  // The OCF agents' runtime state folder (HA_RSCTMP); empty: the agents' own default
  // (/run/resource-agents). Set per node where several nodes share one machine.
  std::string resources_state_dir;

  Endpoint api_listen{0x7f000001, 7201};
  // W2: where the media server serves streams ([stream] listen); absent: this node serves
  // none (it still places sessions on nodes that do).
  std::optional<Endpoint> stream_listen;
  uint32_t stream_balance_percent = 25;         // no node above (1 + this/100) × its fair share
  uint32_t stream_balance_floor_percent = 10;   // ... unless below this % of its capacity
  uint32_t stream_default_bitrate_kbps = 4000;  // a session that names none

  std::vector<DiskConfig> disks;
  // R1/C5: the initial registry servers, in order, and where each one's etcd listens. Empty:
  // this node runs without the registry.
  std::vector<NodeId> registry_servers;
  std::vector<RegistryServerConfig> registry_endpoints;  // one per id in registry_servers
  uint32_t registry_heartbeat_ms = 100;                  // etcd's raft timings
  uint32_t registry_election_ms = 1000;
  std::string etcd_binary = "/usr/bin/etcd";
  std::string distribution_root;
  uint32_t distribution_upload_mbps = 0;  // D13 upload limit for content; 0: none
  uint32_t distribution_fanout = 1;       // D6: downstream servers fed at once per source
  // An upload job whose client sent nothing for this long is cancelled (D4); 0: never.
  uint32_t distribution_upload_idle_s = 300;
  // A finished job (or a server's job with no connections) is dropped from memory after
  // this long; its state on disk takes it up again if it is offered once more.
  uint32_t distribution_forget_after_s = 600;

  std::string log_level = "info";
  std::string log_format = "text";
};

// Loads and validates FILE. Relative key_file/data_dir are resolved against FILE's folder.
Result<Config> LoadConfig(const std::string& path);
// Parses TOML text; `source` names it in messages and anchors relative paths.
Result<Config> ParseConfig(const std::string& text, const std::string& source);
// M14, defined at run time (`cohort cluster parent set`): the levels above a node's cluster
// from TOML holding only [cluster.parent] (nested as in a node's file), checked as the
// file's are against the node's `base` config; relative key files are resolved against the
// node's file. `source` names the text in messages.
Result<std::vector<ParentConfig>> ParseParents(const std::string& text, const std::string& source,
                                               const Config& base);
// The single-node cluster of `cohortd --dev`: node 1 on 127.0.0.1:7101, API 127.0.0.1:7201,
// streams 127.0.0.1:7301.
Config DevConfig(const std::string& data_dir);

}  // namespace cohort
