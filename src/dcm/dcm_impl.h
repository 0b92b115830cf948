// Dcm::Impl: the configuration manager's state on one node, shared by the files that
// implement Dcm by concern: dcm.cc (start, the status poll, the schema it keeps, watches),
// server_define.cc (C6: adding and removing registry servers), credentials.cc (the
// registry's TLS credentials and key rotation). Included by those files only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>

#include "base/digest.h"
#include "base/log.h"
#include "dcm/clusters.h"
#include "dcm/core.h"
#include "dcm/dcm.h"
#include "dcm/define_target.h"
#include "dcm/etcd_server.h"
#include "dcm/identity.h"
#include "dcm/schema.h"
#include "dcm/storage.h"
#include "dcm/tls.h"
#include "io/clock.h"
#include "io/files.h"
#include "io/timer.h"
#include "membership/core.h"
#include "node/documents.h"
#include "node/keyring_file.h"
#include "node/node.h"
#include "registry/etcd.h"
#include "registry/guard.h"

namespace cohort::dcm {

namespace asio = boost::asio;
using nlohmann::json;

// The status poll: relaxed while writes commit, quick while read-only, so writes resume
// within 50 ms of a new leader rather than a whole period later.
inline constexpr Duration kStatusPeriod = Duration::Millis(250);
inline constexpr Duration kReadOnlyStatusPeriod = Duration::Millis(50);

using Reply = std::function<void(Result<std::string>)>;

struct Dcm::Impl {
  Impl(const Config& c, asio::io_context& ctx, LocalStorage s)
      : config(c), io(ctx), storage(std::move(s)), poll(ctx) {}

  Config config;
  Config file;  // the node's config file, as loaded
  asio::io_context& io;
  LocalStorage storage;
  LocalConfiguration local;
  std::unique_ptr<EtcdServer> server;
  std::unique_ptr<registry::EtcdRegistry> client;
  std::unique_ptr<registry::PhaseGuard> guard;
  io::Timer poll;
  bool stopped = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  // For threads of this DCM's (a definition's calls to the node it defines): they post
  // their results through it, and find it empty once the DCM is gone, whose io_context may
  // be gone too.
  struct Loop {
    explicit Loop(asio::io_context* context) : io(context) {}
    std::mutex mutex;
    asio::io_context* io;
  };
  std::shared_ptr<Loop> loop = std::make_shared<Loop>(&io);

  std::optional<registry::RegistryStatus> status;
  std::string status_error;
  // C4, C8: this OS instance's unique id, read from config.uid_file at start (the original
  // UID), and whether this node's definition in the cluster agrees with it yet.
  std::string original_uid;
  enum class IdentityState { kUnchecked, kChecking, kSettled, kRefused };
  IdentityState identity = IdentityState::kUnchecked;
  std::function<void(const std::string&, bool)> on_refused;
  node::Node* node = nullptr;
  std::string cluster_id;
  std::string name;  // this node's: its config's, or the registry's once `node modify` set it
  bool publishing = false;  // one schema write in flight at a time
  std::string node_doc_written, addresses_written, primary_written;
  bool server_list_created = false;
  bool cluster_named = false;  // /cohort/clusters/<name> names cluster_id (schema.h)
  std::function<void()> on_restart;
  std::unique_ptr<DefineTarget> define_target;  // other clusters defining this node (C7)
  int ticks = 0;
  int status_answers = 0;
  bool networks_reading = false;                  // one read of the network objects at a time
  std::set<std::string> damaged_networks_logged;  // keys already reported damaged
  bool reconciling = false;                       // a read of the server list in flight
  std::unique_ptr<schema::VersionedPublisher> map_publisher;

  bool is_server() const {
    return std::find(config.registry_servers.begin(), config.registry_servers.end(),
                     config.node_id) != config.registry_servers.end();
  }

  // Runs `fn` on the loop unless the DCM is gone by then.
  template <typename Fn>
  auto OnLoop(Fn fn) {
    return [weak = std::weak_ptr<bool>(alive), fn = std::move(fn)](auto result) mutable {
      if (weak.lock()) fn(std::move(result));
    };
  }

  // Runs `fn` on the loop after `wait`, unless the DCM is gone by then.
  void After(Duration wait, std::function<void()> fn) {
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::nanoseconds(wait.nanos()));
    timer->async_wait([timer, fn = std::move(fn),
                       weak = std::weak_ptr<bool>(alive)](boost::system::error_code ec) {
      if (!ec && weak.lock()) fn();
    });
  }

  void Audit(const std::string& event, const std::map<std::string, std::string>& fields) {
    if (auto s = storage.Audit(event, fields); !s) {
      Log(LogLevel::kWarn, "dcm", "cannot write the audit log", {{"error", s.error().message()}});
    }
  }

  void SaveLocal() {
    if (auto s = storage.Save(local); !s) {
      Log(LogLevel::kError, "dcm", "cannot save the local configuration",
          {{"error", s.error().message()}});
    }
  }

  void Poll() {
    const bool writable = status && status->phase == registry::Phase::kReadWrite;
    poll.After(writable ? kStatusPeriod : kReadOnlyStatusPeriod, [this] {
      client->Status(OnLoop([this](Result<registry::RegistryStatus> r) {
        if (stopped) return;  // an answer in flight at Stop
        OnStatus(std::move(r));
        Poll();
      }));
    });
  }

  void OnStatus(Result<registry::RegistryStatus> r) {
    FollowServerList(local.registry_servers);  // distances and priorities change
    const registry::Phase before = guard->phase();
    if (r) {
      status = *r;
      status_error.clear();
      if (++status_answers % 4 == 1) RefreshNetworks();
    } else {
      if (!status) status = registry::RegistryStatus{};
      status->phase = registry::Phase::kReadOnly;
      status->leader = kNoNode;
      status_error = r.error().message();
    }
    guard->SetPhase(status->phase);
    if (status->phase != before) {
      Log(LogLevel::kInfo, "dcm", "registry phase",
          {{"phase", registry::PhaseName(status->phase)},
           {"leader", std::to_string(status->leader)}});
      Audit("registry_phase", {{"phase", registry::PhaseName(status->phase)}});
    }
    if (status->leader != kNoNode && status->leader != local.primary) {
      local.primary = status->leader;
      SaveLocal();
    }
    if (status->leader != config.node_id) primary_written.clear();
    if (status->phase == registry::Phase::kReadWrite) {
      Publish();
      if (++ticks % 4 == 0) ReconcileServer();
      if (ticks % 40 == 0) SweepPending();
    }
  }

  // The next piece of this node's global configuration that the registry lacks, written
  // one at a time; each success goes straight on to the next.
  void Publish() {
    if (publishing || node == nullptr) return;
    if (cluster_id.empty() || !cluster_named) return DefineCluster();
    if (identity != IdentityState::kSettled) return CheckIdentity();
    if (NodeDefinition() != node_doc_written) return PublishNodeDocument();
    if (const std::string text = schema::Document(OwnAddresses()); text != addresses_written) {
      return Put(schema::AddressesKey(cluster_id, config.node_id), text, &addresses_written);
    }
    if (status && status->leader == config.node_id) {
      if (!server_list_created) return CreateServerList();
      const std::string primary = schema::Document({{"node", config.node_id}});
      if (primary != primary_written) {
        return Put(schema::PrimaryKey(cluster_id), primary, &primary_written);
      }
    }
    if (node->membership().role() == membership::Role::kSupervisor) PublishMap();
  }

  // Names the cluster in the registry: a file's cluster learns its id there (a new one if
  // none is named yet), a cluster defined at run time (C3) writes its own there.
  void DefineCluster() {
    publishing = true;
    const std::string fresh = cluster_id.empty() ? NewClusterId() : cluster_id;
    guard->Commit(schema::DefineCluster(config.cluster_name, fresh),
                  OnLoop([this, fresh](Result<registry::TxnResult> r) {
                    publishing = false;
                    if (!r) return;
                    auto id = schema::ClusterIdOf(*r, fresh);
                    if (!id) {
                      Log(LogLevel::kError, "dcm", "bad cluster definition in the registry",
                          {{"error", id.error().message()}});
                      return;
                    }
                    if (!cluster_id.empty() && *id != cluster_id) {
                      Log(LogLevel::kWarn, "dcm", "the registry names another cluster so",
                          {{"cluster", config.cluster_name}, {"named", *id}, {"id", cluster_id}});
                    }
                    if (cluster_id.empty()) AdoptCluster(*id, r->succeeded);
                    cluster_named = true;
                    Publish();
                  }));
  }

  void AdoptCluster(const std::string& id, bool defined_here) {
    cluster_id = id;
    if (auto dir = storage.ClusterDir(id); !dir) {
      Log(LogLevel::kError, "dcm", "cannot create the cluster's folders",
          {{"error", dir.error().message()}});
    }
    if (LocalDefinition() == nullptr) {
      local.clusters.push_back({config.cluster_name, id, config.node_id, "", false});
    }
    if (local.current != id) {
      Audit(defined_here ? "cluster_defined" : "cluster_adopted",
            {{"cluster", config.cluster_name}, {"id", id}, {"previous", local.current}});
    }
    local.current = local.target = id;
    local.registry_cluster = id;
    SaveLocal();
    Log(LogLevel::kInfo, "dcm", defined_here ? "cluster defined" : "cluster id adopted",
        {{"cluster", config.cluster_name}, {"id", id}});
  }

  // network_ops.cc (C11): reads the network objects and hands them to the node; defines,
  // unmapped, the subnet of an adapter of this node that no subnet holds.
  void RefreshNetworks();
  // network_ops.cc: the registry priority and the measured routers on the way to `s`.
  ServerRoute RouteTo(const RegistryServerConfig& s) const;
  void DefineOwnSubnets(const schema::StoredNetworks& stored);
  void EditNetworks(schema::NetworkEdit edit, int attempts, Reply done);

  // node_control.cc: this node's definition, written with the name the registry holds.
  void PublishNodeDocument();
  // node_define.cc: posts `sealed` (under `key`, for `request`) to the API at `target` on a
  // thread of its own and delivers the answer, opened, on the loop.
  void PostSealed(const Endpoint& target, const std::string& path, const wire::Key& key,
                  const std::string& request, const std::string& sealed,
                  std::function<void(Result<DefineAnswer>)> deliver);

  // identity_check.cc (C4, C8): the node's definition reconciled with its UID before the
  // node publishes anything else; a clone or a taken number is refused.
  void CheckIdentity();
  // node_define.cc (C7): on the supervisor, about every 10 s, removes the pending
  // definitions a member that crashed mid-definition left past their deadline.
  void SweepPending();
  void ActOnIdentity(const schema::IdentityRead& seen);
  void WriteIdentity(const schema::IdentityRead& seen, const std::string& old_uid,
                     const std::string& event);
  void CleanUpLocal(const IdentityFacts& facts);
  void Refuse(IdentityAction action, const IdentityFacts& facts);
  // This node's entry for the current cluster in local storage, if it keeps one.
  ClusterDefinition* LocalDefinition();
  std::string LocalUid();

  void Put(const std::string& key, const std::string& text, std::string* written) {
    publishing = true;
    guard->Put(key, text, OnLoop([this, key, text, written](Result<int64_t> r) {
                 publishing = false;
                 if (!r) {
                   Log(LogLevel::kDebug, "dcm", "registry write failed",
                       {{"key", key}, {"error", r.error().message()}});
                   return;
                 }
                 *written = text;
                 Publish();
               }));
  }

  void PublishMap() {
    if (!map_publisher) {
      map_publisher = std::make_unique<schema::VersionedPublisher>(schema::MapKey(cluster_id));
    }
    const auto& map = node->membership().map();
    const json members = node::MembersDocument(*node)["members"];
    auto txn = map_publisher->Next(map.version, schema::Document({{"version", map.version},
                                                                  {"supervisor", map.supervisor},
                                                                  {"members", members}}));
    if (!txn) return;
    publishing = true;
    guard->Commit(*txn, OnLoop([this](Result<registry::TxnResult> r) {
      publishing = false;
      const uint64_t refused = map_publisher->refused();
      map_publisher->OnResult(r);
      if (map_publisher->refused() != refused) {
        Log(LogLevel::kWarn, "dcm", "a newer cluster map is in the registry; not overwriting it");
      }
      if (r && r->succeeded) Publish();
    }));
  }

  std::string NodeDefinition() const {
    DefinedNode n;
    n.number = config.node_id;
    n.name = name;
    n.uid = original_uid;
    n.registry_server = is_server();
    n.api = config.api_listen.ToString();
    return schema::NodeDocument(n, config.disks);
  }

  json OwnAddresses() const {
    const json table = node::AddressesDocument(*node);
    json addresses = json::array();
    for (const json& n : table["nodes"]) {
      if (!n.value("self", false)) continue;
      for (json a : n["addresses"]) {
        a.erase("status");  // reachability is each node's own view, not configuration
        a.erase("last_heard_ms_ago");
        a.erase("preferred");
        a.erase("hops");
        // C11: a node address definition's own uid, the same across restarts and unique
        // to this OS instance (its original uid) and address.
        const std::string key = original_uid + "/" + a["address"].get<std::string>();
        a["uid"] = HexDigest(Digest64({reinterpret_cast<const uint8_t*>(key.data()), key.size()}));
        a["node"] = config.node_id;
        addresses.push_back(a);
      }
    }
    return {{"id", config.node_id}, {"addresses", addresses}};
  }

  void CreateServerList() {
    publishing = true;
    guard->Commit(schema::CreateServerList(cluster_id, config.registry_endpoints),
                  OnLoop([this](Result<registry::TxnResult> r) {
                    publishing = false;
                    if (!r) return;
                    server_list_created = true;  // by us now, or by someone before
                    Publish();
                  }));
  }

  // server_role.cc, C6 on this node: the registry's server list and the offline marks say
  // whether this node runs a registry server. Listed and not running → join the registry as
  // the learner `define` added; running and no longer listed → `undefine` removed it: stop
  // and keep the data aside; marked offline → stop, data kept; mark gone → start again.
  void ReconcileServer();
  void FollowServerRole(const std::vector<RegistryServerConfig>& list, int64_t revision,
                        bool offline);

  // C5: the ordered server list in local storage and the client's endpoints follow the
  // registry's list, so servers defined or undefined later are used (or skipped) at once;
  // C12/C13: and the order follows the network map and the measured distances.
  void FollowServerList(const std::vector<RegistryServerConfig>& list) {
    auto ordered = OrderedEndpoints(config.node_id, list,
                                    [this](const RegistryServerConfig& s) { return RouteTo(s); });
    if (ordered == local.registry_servers) return;
    local.registry_servers = ordered;
    SaveLocal();
    std::vector<std::string> endpoints;
    std::string text;
    for (const auto& s : ordered) {
      endpoints.push_back(s.client.ToString());
      text += (text.empty() ? "" : ", ") + std::to_string(s.id);
    }
    client->SetEndpoints(std::move(endpoints));
    FollowMembership();  // the list may hold other servers now
    Log(LogLevel::kInfo, "dcm", "registry servers", {{"order", text}});
  }

  // dcm.cc: the servers on nodes the membership declared failed, as the client was told.
  void FollowMembership();
  std::vector<std::string> servers_down;

  // credentials.cc: this node's registry TLS credentials, issued afresh from its keyring
  // and written where its etcd reads them, valid for loopback, its adapters and its
  // registry server's addresses in the configuration, the learned list and `members`.
  Result<TlsCredentials> IssueCredentials(const std::vector<RegistryServerConfig>& members);
  std::string server_ca_pem;  // the CAs the running etcd trusts (read at its start)

  Status StartServer(const std::vector<RegistryServerConfig>& members, bool join_existing) {
    EtcdLaunch launch = LaunchFor(config);
    launch.data_dir = storage.registry_data_dir();
    launch.tls_dir = storage.registry_tls_dir();
    auto credentials = IssueCredentials(members);
    if (!credentials) return credentials.error();
    server_ca_pem = credentials->ca_pem;
    launch.members = members;
    launch.join_existing = join_existing;
    server = std::make_unique<EtcdServer>(io, launch, storage.registry_log_file());
    return server->Start();
  }
};

}  // namespace cohort::dcm
