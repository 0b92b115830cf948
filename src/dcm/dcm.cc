#include "dcm/dcm_impl.h"

namespace cohort::dcm {

namespace {

// The registry's servers, primary and this node's server role in local storage are its
// cluster's: a node starting in another cluster (C10) starts from that one's configuration.
void ForgetOtherRegistry(const std::string& cluster_id, LocalConfiguration& local) {
  if (cluster_id.empty()) return;  // a file's cluster before its first join: still the one
  const std::string& owner =
      local.registry_cluster.empty() ? local.current : local.registry_cluster;
  if (!owner.empty() && owner != cluster_id) {
    local.registry_servers.clear();
    local.primary = kNoNode;
    local.server_defined = local.server_removed = local.server_offline = false;
    local.server_removed_revision = 0;
  }
  local.registry_cluster = cluster_id;
}

}  // namespace

Result<std::unique_ptr<Dcm>> Dcm::Create(const Config& config, const Config& file,
                                         asio::io_context& io) {
  auto storage = LocalStorage::Open(config.data_dir);
  if (!storage) return storage.error();
  auto impl = std::make_unique<Impl>(config, io, std::move(*storage));
  impl->file = file;
  impl->name = config.node_name;
  auto local = impl->storage.Load();
  if (!local) return local.error();
  impl->local = std::move(*local);
  ForgetOtherRegistry(config.cluster_id, impl->local);
  if (config.defined_at_run_time) {
    COHORT_TRY(impl->storage.UseClusterRegistry(config.cluster_id));
  }
  if (!config.registry_servers.empty()) {
    auto uid = ReadUid(config);
    if (!uid) return uid.error();
    impl->original_uid = *uid;
    impl->define_target = std::make_unique<DefineTarget>(impl->config, impl->storage, impl->local,
                                                         impl->original_uid);
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
    auto credentials = impl->IssueCredentials({});
    if (!credentials) return credentials.error();
    options.tls =
        registry::EtcdTls{credentials->ca_pem, credentials->cert_pem, credentials->key_pem};
    impl->client = std::make_unique<registry::EtcdRegistry>(std::move(options));
    impl->guard = std::make_unique<registry::PhaseGuard>(*impl->client);
  }
  impl->cluster_id = config.cluster_id;
  return std::unique_ptr<Dcm>(new Dcm(std::move(impl)));
}

Dcm::Dcm(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dcm::~Dcm() {
  {
    std::lock_guard<std::mutex> lock(impl_->loop->mutex);
    impl_->loop->io = nullptr;
  }
  *impl_->alive = false;
  impl_->alive.reset();
  Stop();
}

Status Dcm::Start() {
  Impl& d = *impl_;
  if (!has_registry()) return OkStatus();
  d.SaveLocal();
  if (d.local.server_offline) {
    Log(LogLevel::kInfo, "dcm",
        "not starting the registry server: it is offline (`cohort registry server online " +
            std::to_string(d.config.node_id) + "` starts it)");
  } else if (d.local.server_removed) {
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

void Dcm::Attach(node::Node& node) {
  Impl* d = impl_.get();
  d->node = &node;
  d->FollowMembership();
  // Posted: not inside the membership's own step.
  node.OnMembershipChanged([d, &io = d->io, weak = std::weak_ptr<bool>(d->alive)] {
    asio::post(io, [d, weak] {
      if (weak.lock()) d->FollowMembership();
    });
  });
}

// A registry server whose node the membership declared failed is skipped and loses its
// watches at once: otherwise each client waits out an attempt's timeout on it, and a watch
// streaming from it stays silent (its host gone, no connection reset ever comes).
void Dcm::Impl::FollowMembership() {
  if (client == nullptr || node == nullptr) return;
  const membership::ClusterMap& map = node->membership().map();
  std::vector<std::string> down;
  for (const RegistryServerConfig& s : local.registry_servers) {
    const membership::Member* m = map.Find(s.id);
    if (m != nullptr && (m->state == membership::MemberState::kFailed ||
                         m->state == membership::MemberState::kLeft)) {
      down.push_back(s.client.ToString());
    }
  }
  if (down == servers_down) return;
  servers_down = down;
  client->SetDown(down);
}

void Dcm::Stop() {
  impl_->stopped = true;
  impl_->poll.Cancel();
  if (impl_->server) impl_->server->Stop();
}

bool Dcm::has_registry() const { return impl_->client != nullptr; }
registry::RegistryBackend& Dcm::registry() { return *impl_->guard; }
const std::optional<registry::RegistryStatus>& Dcm::registry_status() const {
  return impl_->status;
}

const std::string& Dcm::registry_error() const { return impl_->status_error; }

std::vector<NodeId> Dcm::registry_order() const {
  std::vector<NodeId> ids;
  for (const auto& s : impl_->local.registry_servers) ids.push_back(s.id);
  return ids;
}

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

void Dcm::Snapshot(std::function<void(Result<std::string>)> done) {
  impl_->client->Snapshot(impl_->OnLoop(std::move(done)));
}

const std::string& Dcm::uid() const { return impl_->original_uid; }

std::string Dcm::identity_state() const {
  switch (impl_->identity) {
    case Impl::IdentityState::kUnchecked:
      return "unchecked";
    case Impl::IdentityState::kChecking:
      return "checking";
    case Impl::IdentityState::kSettled:
      return "settled";
    case Impl::IdentityState::kRefused:
      return "refused";
  }
  return "?";
}

void Dcm::OnRefused(std::function<void(const std::string&, bool)> refused) {
  impl_->on_refused = std::move(refused);
}

LocalClusters Dcm::Clusters() {
  Impl& d = *impl_;
  const bool serves = d.is_server() || d.local.server_defined;
  return LocalClusters(d.file, d.storage, d.local, d.original_uid, d.cluster_id, serves);
}

DefineTarget& Dcm::define_target() { return *impl_->define_target; }
const Config& Dcm::file() const { return impl_->file; }
void Dcm::Audit(const std::string& event, const std::map<std::string, std::string>& fields) {
  impl_->Audit(event, fields);
}

void Dcm::OnRestart(std::function<void()> restart) { impl_->on_restart = std::move(restart); }

void Dcm::Restart() {
  impl_->After(Duration::Millis(100), [this] {
    if (impl_->on_restart) impl_->on_restart();
  });
}

bool Dcm::Online() const {
  const Impl& d = *impl_;
  if (d.node == nullptr || !d.status || !d.status_error.empty()) return false;
  const auto& m = d.node->membership();
  const bool in_cluster =
      m.role() == membership::Role::kMember || m.role() == membership::Role::kSupervisor;
  return in_cluster && m.map().IsUp(d.config.node_id) && m.map().Ring().size() >= 2;
}

void Dcm::SettleMove() {
  Impl& d = *impl_;
  const std::string from = d.local.current;
  d.local.current = d.local.target = d.cluster_id;
  d.SaveLocal();
  d.Audit("cluster_moved",
          {{"cluster", d.config.cluster_name}, {"id", d.cluster_id}, {"from", from}});
  Log(LogLevel::kInfo, "dcm", "moved", {{"cluster", d.config.cluster_name}, {"from", from}});
}

void Dcm::RevertMove() {
  Impl& d = *impl_;
  d.local.target = d.local.current;
  d.SaveLocal();
  d.Audit("cluster_move_reverted", {{"cluster", d.config.cluster_name}, {"id", d.cluster_id}});
  Log(LogLevel::kWarn, "dcm", "not online in the target in time: returning",
      {{"cluster", d.config.cluster_name}, {"back_to", d.local.current}});
}

std::vector<std::pair<std::string, std::string>> Dcm::components() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (impl_->server) out.emplace_back("registry_server", server_state());
  out.emplace_back("registry", registry_state());
  if (has_registry()) out.emplace_back("identity", identity_state());
  return out;
}

}  // namespace cohort::dcm
