#include "dcm/dcm.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <random>

#include "base/log.h"
#include "dcm/core.h"
#include "dcm/etcd_server.h"
#include "dcm/schema.h"
#include "dcm/storage.h"
#include "io/clock.h"
#include "io/files.h"
#include "membership/core.h"
#include "node/documents.h"
#include "node/node.h"
#include "registry/etcd.h"
#include "registry/guard.h"

namespace cohort::dcm {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// The status poll: relaxed while writes commit, quick while read-only, so writes resume
// within 50 ms of a new leader rather than a whole period later.
constexpr auto kStatusPeriod = std::chrono::milliseconds(250);
constexpr auto kReadOnlyStatusPeriod = std::chrono::milliseconds(50);

std::string NewClusterId() {
  std::random_device rd;
  std::mt19937_64 g((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(g()));
  return text;
}

// The OS instance's unique id (C4): systemd's machine id, else nothing.
std::string MachineId() {
  auto id = io::ReadFile("/etc/machine-id");
  if (!id) return "";
  std::string s = *id;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

struct Dcm::Impl {
  Impl(const Config& c, asio::io_context& ctx, LocalStorage s)
      : config(c), io(ctx), storage(std::move(s)), poll(ctx) {}

  Config config;
  asio::io_context& io;
  LocalStorage storage;
  LocalConfiguration local;
  std::unique_ptr<EtcdServer> server;
  std::unique_ptr<registry::EtcdRegistry> client;
  std::unique_ptr<registry::PhaseGuard> guard;
  asio::steady_timer poll;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  std::optional<registry::RegistryStatus> status;
  std::string status_error;
  const std::string machine_id = MachineId();
  node::Node* node = nullptr;
  std::string cluster_id;
  bool publishing = false;  // one schema write in flight at a time
  std::string node_doc_written, addresses_written, primary_written;
  bool server_list_created = false;
  int ticks = 0;
  bool reconciling = false;  // a read of the server list in flight
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
    poll.expires_after(writable ? kStatusPeriod : kReadOnlyStatusPeriod);
    poll.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      client->Status(OnLoop([this](Result<registry::RegistryStatus> r) {
        OnStatus(std::move(r));
        Poll();
      }));
    });
  }

  void OnStatus(Result<registry::RegistryStatus> r) {
    const registry::Phase before = guard->phase();
    if (r) {
      status = *r;
      status_error.clear();
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
    }
  }

  // The next piece of this node's global configuration that the registry lacks, written
  // one at a time; each success goes straight on to the next.
  void Publish() {
    if (publishing || node == nullptr) return;
    if (cluster_id.empty()) return DefineCluster();
    const json node_doc = NodeDefinition();
    if (const std::string text = schema::Document(node_doc); text != node_doc_written) {
      return Put(schema::NodeKey(cluster_id, config.node_id), text, &node_doc_written);
    }
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

  void DefineCluster() {
    publishing = true;
    const std::string fresh = NewClusterId();
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
                    AdoptCluster(*id, r->succeeded);
                    Publish();
                  }));
  }

  void AdoptCluster(const std::string& id, bool defined_here) {
    cluster_id = id;
    if (auto dir = storage.ClusterDir(id); !dir) {
      Log(LogLevel::kError, "dcm", "cannot create the cluster's folders",
          {{"error", dir.error().message()}});
    }
    const ClusterDefinition def{config.cluster_name, id};
    if (std::find(local.clusters.begin(), local.clusters.end(), def) == local.clusters.end()) {
      local.clusters.push_back(def);
    }
    if (local.current != id) {
      Audit(defined_here ? "cluster_defined" : "cluster_adopted",
            {{"cluster", config.cluster_name}, {"id", id}, {"previous", local.current}});
    }
    local.current = local.target = id;
    SaveLocal();
    Log(LogLevel::kInfo, "dcm", defined_here ? "cluster defined" : "cluster id adopted",
        {{"cluster", config.cluster_name}, {"id", id}});
  }

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

  json NodeDefinition() const {
    json disks = json::array();
    for (const auto& d : config.disks) disks.push_back({{"id", d.id}, {"mount", d.mount}});
    return {{"id", config.node_id},
            {"name", config.node_name},
            {"uid", machine_id},
            {"registry_server", is_server()},
            {"disks", disks}};
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

  // C6 on this node: the registry's server list says whether this node runs a registry
  // server. Listed and not running → join the registry as the learner `define` added;
  // running and no longer listed → `undefine` removed it: stop and keep the data aside.
  void ReconcileServer() {
    if (reconciling || cluster_id.empty()) return;
    reconciling = true;
    guard->Get(schema::ServersKey(cluster_id), true,
               OnLoop([this](Result<std::optional<registry::KeyValue>> kv) {
                 reconciling = false;
                 if (!kv || !*kv) return;
                 auto list = schema::ParseServerList((**kv).value);
                 if (!list || list->empty()) return;
                 FollowServerList(*list);
                 const bool listed = std::any_of(
                     list->begin(), list->end(),
                     [&](const RegistryServerConfig& s) { return s.id == config.node_id; });
                 // Named again after an undefine: only by a newer list (a stale copy read
                 // just after the removal still names this node).
                 const bool relisted =
                     local.server_removed && (**kv).mod_revision > local.server_removed_revision;
                 if (listed && !server && (!local.server_removed || relisted)) {
                   local.server_removed = false;
                   local.server_defined = true;
                   SaveLocal();
                   Audit("registry_server_defined", {});
                   if (auto st = StartServer(*list, /*join_existing=*/true); !st) {
                     Log(LogLevel::kError, "dcm", "cannot start the registry server",
                         {{"error", st.error().message()}});
                   }
                 } else if (!listed && server) {
                   server->Stop();
                   server.reset();
                   const std::string aside =
                       storage.registry_data_dir() + ".removed." + std::to_string(io::WallMillis());
                   std::error_code ec;
                   std::filesystem::rename(storage.registry_data_dir(), aside, ec);
                   local.server_defined = false;
                   local.server_removed = true;
                   local.server_removed_revision = (**kv).mod_revision;
                   SaveLocal();
                   Audit("registry_server_undefined", {{"data_moved_to", aside}});
                   Log(LogLevel::kInfo, "dcm", "registry server undefined; stopped",
                       {{"data_moved_to", aside}});
                 }
               }));
  }

  // C5: the ordered server list in local storage and the client's endpoints follow the
  // registry's list, so servers defined or undefined later are used (or skipped) at once.
  void FollowServerList(const std::vector<RegistryServerConfig>& list) {
    auto ordered = OrderedEndpoints(config.node_id, list);
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
    Log(LogLevel::kInfo, "dcm", "registry servers", {{"order", text}});
  }

  Status StartServer(const std::vector<RegistryServerConfig>& members, bool join_existing) {
    EtcdLaunch launch = LaunchFor(config);
    launch.data_dir = storage.registry_data_dir();
    launch.members = members;
    launch.join_existing = join_existing;
    server = std::make_unique<EtcdServer>(io, launch, storage.registry_log_file());
    return server->Start();
  }
};

Result<std::unique_ptr<Dcm>> Dcm::Create(const Config& config, asio::io_context& io) {
  auto storage = LocalStorage::Open(config.data_dir);
  if (!storage) return storage.error();
  auto impl = std::make_unique<Impl>(config, io, std::move(*storage));
  auto local = impl->storage.Load();
  if (!local) return local.error();
  impl->local = std::move(*local);
  if (!config.registry_servers.empty()) {
    // The list learned from the registry (C5, local storage) once there is one; before the
    // first contact, the configured servers.
    const bool learned = !impl->local.current.empty() && !impl->local.registry_servers.empty();
    impl->local.registry_servers = OrderedEndpoints(
        config.node_id, learned ? impl->local.registry_servers : config.registry_endpoints);
    registry::EtcdOptions options;
    for (const auto& s : impl->local.registry_servers) {
      options.endpoints.push_back(s.client.ToString());
    }
    // Per attempt. A write that reaches a follower still loyal to a leader that just died is
    // dropped by raft and only ends at this deadline; just over one election timeout lets
    // the retry, at the next server, find the new leader.
    options.timeout = Duration::Millis(std::max<uint32_t>(250, config.registry_election_ms + 100));
    options.post = [&io](std::function<void()> fn) { asio::post(io, std::move(fn)); };
    impl->client = std::make_unique<registry::EtcdRegistry>(std::move(options));
    impl->guard = std::make_unique<registry::PhaseGuard>(*impl->client);
  }
  if (!impl->local.current.empty()) impl->cluster_id = impl->local.current;
  return std::unique_ptr<Dcm>(new Dcm(std::move(impl)));
}

Dcm::Dcm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dcm::~Dcm() {
  *impl_->alive = false;
  impl_->alive.reset();
  Stop();
}

Status Dcm::Start() {
  Impl& d = *impl_;
  if (!has_registry()) return OkStatus();
  d.SaveLocal();
  if (d.local.server_removed) {
    Log(LogLevel::kInfo, "dcm",
        "not starting the registry server: it was undefined (dcm/configuration/local.json)");
  } else if (d.local.server_defined) {
    COHORT_TRY(d.StartServer(d.local.registry_servers, /*join_existing=*/true));
  } else if (d.is_server()) {
    COHORT_TRY(d.StartServer(d.config.registry_endpoints, /*join_existing=*/false));
  }
  d.Audit("start", {{"node", std::to_string(d.config.node_id)},
                    {"registry_server", d.is_server() ? "yes" : "no"}});
  d.Poll();
  return OkStatus();
}

void Dcm::Attach(node::Node& node) { impl_->node = &node; }

void Dcm::Stop() {
  impl_->poll.cancel();
  if (impl_->server) impl_->server->Stop();
}

bool Dcm::has_registry() const { return impl_->client != nullptr; }
registry::RegistryBackend& Dcm::registry() { return *impl_->guard; }
const std::optional<registry::RegistryStatus>& Dcm::registry_status() const {
  return impl_->status;
}

const std::string& Dcm::registry_error() const { return impl_->status_error; }

std::string Dcm::registry_state() const {
  if (!has_registry()) return "not configured";
  if (!impl_->status) return "starting";
  return registry::PhaseName(impl_->status->phase);
}

std::string Dcm::server_state() const {
  return impl_->server ? EtcdServer::StateName(impl_->server->state()) : "";
}
int Dcm::server_restarts() const { return impl_->server ? impl_->server->restarts() : 0; }
const std::string& Dcm::cluster_id() const { return impl_->cluster_id; }
uint64_t Dcm::map_published() const {
  return impl_->map_publisher ? impl_->map_publisher->published() : 0;
}

void Dcm::WatchOnce(const std::string& prefix, int64_t from, Duration timeout,
                    std::function<void(Result<std::vector<registry::WatchEvent>>)> done) {
  // Shared by the watch's callback and the timer: whichever comes first answers.
  struct Poll {
    std::function<void(Result<std::vector<registry::WatchEvent>>)> done;
    std::optional<registry::WatchId> id;
    std::unique_ptr<asio::steady_timer> timer;
  };
  auto poll = std::make_shared<Poll>();
  poll->done = std::move(done);
  registry::RegistryBackend* reg = &registry();
  auto finish = [poll, reg](Result<std::vector<registry::WatchEvent>> r) {
    if (!poll->done) return;
    auto done_now = std::move(poll->done);
    poll->done = nullptr;
    poll->timer->cancel();
    if (poll->id) reg->CancelWatch(*poll->id);
    done_now(std::move(r));
  };
  poll->timer = std::make_unique<asio::steady_timer>(impl_->io);
  auto id = reg->Watch(prefix, from, impl_->OnLoop(finish));
  if (!id) return finish(id.error());
  poll->id = *id;
  if (!poll->done) {  // answered already (the model answers at once): the watch must go
    reg->CancelWatch(*id);
    return;
  }
  poll->timer->expires_after(std::chrono::nanoseconds(timeout.nanos()));
  poll->timer->async_wait(
      [finish, alive = std::weak_ptr<bool>(impl_->alive)](boost::system::error_code ec) {
        if (ec || !alive.lock()) return;
        finish(std::vector<registry::WatchEvent>{});
      });
}

namespace {

using Reply = std::function<void(Result<std::string>)>;

const registry::EtcdMember* FindMember(const std::vector<registry::EtcdMember>& members, NodeId id,
                                       const std::string& peer_url) {
  for (const auto& m : members) {
    if (m.name == MemberName(id)) return &m;
    for (const auto& u : m.peer_urls) {
      if (u == peer_url) return &m;
    }
  }
  return nullptr;
}

}  // namespace

void Dcm::ListServers(std::function<void(Result<std::vector<registry::EtcdMember>>)> done) {
  impl_->client->Members(impl_->OnLoop(std::move(done)));
}

void Dcm::DefineServer(const RegistryServerConfig& server, Duration catch_up, Reply done) {
  // etcd refuses new members until its leader has been in touch with every member for 5 s
  // ("unhealthy cluster"), as right after a start or an election, and a member that has just
  // started may not serve clients yet: try again until the deadline.
  struct Retry {
    Dcm* dcm;
    RegistryServerConfig server;
    Duration catch_up;
    Instant deadline;
    Reply done;
    void operator()(Result<std::string> r) const {
      // Every kUnavailable failure leaves the registry as it was (a learner added is
      // removed again), so it is safe to try again.
      const bool transient = !r && r.error().code() == Errc::kUnavailable;
      if (!transient || io::SteadyNow() >= deadline) return done(std::move(r));
      dcm->impl_->After(Duration::Seconds(1), [again = *this] {
        again.dcm->DefineServerOnce(again.server, again.catch_up, again);
      });
    }
  };
  DefineServerOnce(server, catch_up,
                   Retry{this, server, catch_up, io::SteadyNow() + catch_up, std::move(done)});
}

void Dcm::DefineServerOnce(const RegistryServerConfig& server, Duration catch_up, Reply done) {
  Impl& d = *impl_;
  if (registry_state() != "read-write" || d.cluster_id.empty()) {
    return done(Error(Errc::kUnavailable, "the registry must be read-write to change its servers"));
  }
  const std::string peer_url = "http://" + server.peer.ToString();
  d.client->Members(d.OnLoop([this, server, peer_url, catch_up,
                              done](Result<std::vector<registry::EtcdMember>> members) {
    if (!members) return done(members.error());
    for (const auto& m : *members) {
      if (m.learner) {
        return done(Error(Errc::kUnavailable, "member " +
                                                  (m.name.empty() ? m.peer_urls.at(0) : m.name) +
                                                  " is still a learner: one new server at a time"));
      }
    }
    if (FindMember(*members, server.id, peer_url) != nullptr) {
      return done(Error(Errc::kInvalidArgument, "node " + std::to_string(server.id) + " (or " +
                                                    peer_url + ") is already a registry server"));
    }
    impl_->guard->Get(
        schema::ServersKey(impl_->cluster_id), false,
        impl_->OnLoop([this, server, peer_url, catch_up,
                       done](Result<std::optional<registry::KeyValue>> kv) {
          if (!kv) return done(kv.error());
          if (!*kv) return done(Error(Errc::kUnavailable, "no server list yet"));
          auto list = schema::ParseServerList((**kv).value);
          if (!list) return done(list.error());
          const int64_t revision = (**kv).mod_revision;
          impl_->client->AddLearner(
              peer_url, impl_->OnLoop([this, server, list = *list, revision, catch_up,
                                       done](Result<uint64_t> member) mutable {
                if (!member) return done(member.error());
                auto before = list;
                list.push_back(server);
                impl_->guard->Commit(
                    schema::ReplaceServerList(impl_->cluster_id, list, revision),
                    impl_->OnLoop([this, server, id = *member, before, catch_up,
                                   done](Result<registry::TxnResult> r) {
                      if (!r || !r->succeeded) {
                        impl_->client->Remove(id, [](Result<Ok>) {});
                        return done(Error(Errc::kUnavailable,
                                          "the server list changed meanwhile; "
                                          "nothing was changed, try again"));
                      }
                      impl_->Audit("registry_server_define", {{"node", std::to_string(server.id)}});
                      PromoteWhenCaughtUp(server, id, before, io::SteadyNow() + catch_up, done);
                    }));
              }));
        }));
  }));
}

void Dcm::PromoteWhenCaughtUp(const RegistryServerConfig& server, uint64_t member,
                              const std::vector<RegistryServerConfig>& before, Instant deadline,
                              Reply done) {
  Impl& d = *impl_;
  d.client->Promote(member, d.OnLoop([this, server, member, before, deadline, done](Result<Ok> r) {
    if (r) {
      impl_->Audit("registry_server_promoted", {{"node", std::to_string(server.id)}});
      return done("node " + std::to_string(server.id) + " is a registry server (" +
                  MemberName(server.id) + ", peer " + server.peer.ToString() + ")");
    }
    if (io::SteadyNow() >= deadline) {
      // Undo, so the registry is left as it was (C7: all or nothing).
      impl_->client->Remove(member, [](Result<Ok>) {});
      impl_->guard->Get(
          schema::ServersKey(impl_->cluster_id), false,
          impl_->OnLoop([this, before](Result<std::optional<registry::KeyValue>> kv) {
            if (kv && *kv) {
              impl_->guard->Commit(
                  schema::ReplaceServerList(impl_->cluster_id, before, (**kv).mod_revision),
                  [](Result<registry::TxnResult>) {});
            }
          }));
      return done(Error(Errc::kUnavailable,
                        "node " + std::to_string(server.id) +
                            "'s registry server did not catch up in time (is its cohortd "
                            "running with [registry] naming these servers?); undone: " +
                            r.error().message()));
    }
    impl_->After(Duration::Millis(500), [this, server, member, before, deadline, done] {
      PromoteWhenCaughtUp(server, member, before, deadline, done);
    });
  }));
}

void Dcm::UndefineServer(NodeId id, Reply done) {
  Impl& d = *impl_;
  if (registry_state() != "read-write" || d.cluster_id.empty()) {
    return done(Error(Errc::kUnavailable, "the registry must be read-write to change its servers"));
  }
  d.client->Members(d.OnLoop([this, id, done](Result<std::vector<registry::EtcdMember>> members) {
    if (!members) return done(members.error());
    const registry::EtcdMember* gone = FindMember(*members, id, "");
    if (gone == nullptr) {
      return done(
          Error(Errc::kNotFound, "node " + std::to_string(id) + " is not a registry server"));
    }
    const registry::EtcdMember* heir = nullptr;
    for (const auto& m : *members) {
      if (!m.learner && m.id != gone->id && !m.name.empty()) heir = &m;
    }
    if (heir == nullptr) {
      return done(Error(Errc::kInvalidArgument,
                        "node " + std::to_string(id) + " is the last registry server: keep it"));
    }
    const uint64_t gone_id = gone->id, heir_id = heir->id;
    auto remove = [this, id, gone_id, done] {
      impl_->client->Remove(gone_id, impl_->OnLoop([this, id, done](Result<Ok> r) {
        if (!r) return done(r.error());
        impl_->Audit("registry_server_undefine", {{"node", std::to_string(id)}});
        DropFromServerList(id, 20, done);
      }));
    };
    if (impl_->status && impl_->status->leader == id) {
      // The leader leaves last: hand leadership over first, so writes go on without an
      // election.
      return impl_->client->MoveLeader(heir_id, impl_->OnLoop([remove, done](Result<Ok> r) {
        if (!r) return done(r.error());
        remove();
      }));
    }
    remove();
  }));
}

void Dcm::DropFromServerList(NodeId id, int attempts, Reply done) {
  // Straight to the client, not through the phase guard: the member just removed may have
  // been the one this node's client used, and a status poll may briefly see no leader.
  impl_->client->Get(
      schema::ServersKey(impl_->cluster_id), false,
      impl_->OnLoop([this, id, attempts, done](Result<std::optional<registry::KeyValue>> kv) {
        auto again = [this, id, attempts, done](const std::string& why) {
          if (attempts <= 1) {
            return done(Error(Errc::kUnavailable,
                              "removed from the registry, but not from its server list (" + why +
                                  "): run undefine again"));
          }
          impl_->After(Duration::Millis(250),
                       [this, id, attempts, done] { DropFromServerList(id, attempts - 1, done); });
        };
        if (!kv) return again(kv.error().message());
        if (!*kv) return done(Error(Errc::kNotFound, "no registry server list"));
        auto parsed = schema::ParseServerList((**kv).value);
        if (!parsed) return done(parsed.error());
        std::vector<RegistryServerConfig> list;
        for (const auto& s : *parsed) {
          if (s.id != id) list.push_back(s);
        }
        if (list.size() == parsed->size()) {
          return done(
              Error(Errc::kNotFound, "node " + std::to_string(id) + " is not a registry server"));
        }
        impl_->client->Commit(
            schema::ReplaceServerList(impl_->cluster_id, list, (**kv).mod_revision),
            impl_->OnLoop([id, done, again](Result<registry::TxnResult> t) {
              if (!t) return again(t.error().message());
              if (!t->succeeded) return again("it changed meanwhile");
              done("node " + std::to_string(id) + " is no longer a registry server");
            }));
      }));
}

void Dcm::Snapshot(std::function<void(Result<std::string>)> done) {
  impl_->client->Snapshot(impl_->OnLoop(std::move(done)));
}

std::vector<std::pair<std::string, std::string>> Dcm::components() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (impl_->server) out.emplace_back("registry_server", server_state());
  out.emplace_back("registry", registry_state());
  return out;
}

}  // namespace cohort::dcm
