// The registry's TLS credentials on this node (dcm/tls.h) and what a key rotation does to
// them: every keyring change re-issues them; the client dials with the new ones at once; the
// local etcd reloads its own certificate at each handshake but reads the CAs it trusts only
// at its start, so a change of the trusted set restarts it.
#include "dcm/dcm_impl.h"

namespace cohort::dcm {
namespace {

// How long a restarted registry server may take to answer again before the key operation
// reports it (it keeps restarting on its own either way).
constexpr Duration kServerBackWithin = Duration::Seconds(20);
constexpr Duration kServerCheckEvery = Duration::Millis(200);

}  // namespace

Result<TlsCredentials> Dcm::Impl::IssueCredentials(
    const std::vector<RegistryServerConfig>& members) {
  std::set<uint32_t> ips{0x7f000001};
  for (const AdapterConfig& a : config.adapters) ips.insert(a.listen.ip);
  const std::vector<RegistryServerConfig>* lists[] = {&config.registry_endpoints,
                                                      &local.registry_servers, &members};
  for (const auto* list : lists) {
    for (const RegistryServerConfig& s : *list) {
      if (s.id == config.node_id) ips.insert({s.client.ip, s.peer.ip});
    }
  }
  ips.erase(0);
  auto ring = node::LoadKeyring(config);
  if (!ring) return ring.error();
  auto credentials = IssueNodeCredentials(*ring, config.node_id, {ips.begin(), ips.end()});
  if (!credentials) return credentials.error();
  COHORT_TRY(WriteCredentials(storage.registry_tls_dir(), *credentials));
  return credentials;
}

void Dcm::KeyringChanged(Reply done) {
  Impl& d = *impl_;
  if (!has_registry()) return done(std::string("no registry configured"));
  auto credentials = d.IssueCredentials({});
  if (!credentials) return done(credentials.error());
  d.client->SetTls(
      registry::EtcdTls{credentials->ca_pem, credentials->cert_pem, credentials->key_pem});
  const bool trust_changed = d.server != nullptr && credentials->ca_pem != d.server_ca_pem;
  d.Audit("registry_credentials", {{"trusted_changed", trust_changed ? "yes" : "no"}});
  if (!trust_changed) return done(std::string("registry credentials re-issued"));
  d.server_ca_pem = credentials->ca_pem;
  if (d.server->state() != EtcdServer::State::kRunning) {
    return done(
        std::string("registry credentials re-issued; the registry server reads them "
                    "when it starts again"));
  }
  const pid_t before = d.server->pid();
  d.server->Restart();
  WaitForServer(before, io::SteadyNow() + kServerBackWithin, std::move(done));
}

// Done once the local registry server runs as a new process, answers its status and the
// registry is read-write: then the next node's restart cannot cost the quorum.
void Dcm::WaitForServer(pid_t before, Instant deadline, Reply done) {
  Impl& d = *impl_;
  const bool restarted = d.server && d.server->pid() > 0 && d.server->pid() != before;
  if (!restarted) return RetryWaitForServer(before, deadline, std::move(done));
  d.client->Members(d.OnLoop([this, before, deadline, done = std::move(done)](
                                 Result<std::vector<registry::EtcdMember>> members) mutable {
    const std::string self = MemberName(impl_->config.node_id);
    const bool answers = members && std::any_of(members->begin(), members->end(),
                                                [&](const registry::EtcdMember& m) {
                                                  return m.name == self && m.answers;
                                                });
    if (answers && registry_state() == "read-write") {
      return done(std::string("registry server restarted trusting the new key set"));
    }
    RetryWaitForServer(before, deadline, std::move(done));
  }));
}

void Dcm::RetryWaitForServer(pid_t before, Instant deadline, Reply done) {
  if (io::SteadyNow() >= deadline) {
    return done(Error(Errc::kTimeout,
                      "the registry server restarted for the new keys but does not answer "
                      "yet (see registry/etcd.log under the data directory)"));
  }
  impl_->After(kServerCheckEvery, [this, before, deadline, done = std::move(done)]() mutable {
    WaitForServer(before, deadline, std::move(done));
  });
}

}  // namespace cohort::dcm
