#include "dcm/dcm_impl.h"

namespace cohort::dcm {

namespace {

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
  const std::string peer_url = Scheme(LaunchFor(d.config)) + server.peer.ToString();
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

void Dcm::SetServerOffline(NodeId id, bool offline, Reply done) {
  Impl& d = *impl_;
  if (registry_state() != "read-write" || d.cluster_id.empty()) {
    return done(Error(Errc::kUnavailable, "the registry must be read-write to change its servers"));
  }
  if (!offline) {
    return d.guard->Delete(
        schema::OfflineKey(d.cluster_id, id), d.OnLoop([this, id, done](Result<int64_t> n) {
          if (!n) return done(n.error());
          if (*n == 0) {
            return done(Error(Errc::kInvalidArgument,
                              "node " + std::to_string(id) + "'s registry server is not offline"));
          }
          impl_->Audit("registry_server_online_asked", {{"node", std::to_string(id)}});
          WaitForAnswer(id, true, io::SteadyNow() + Duration::Seconds(30), done);
        }));
  }
  OfflineServers(d.OnLoop([this, id, done](Result<std::vector<NodeId>> marked) {
    if (!marked) return done(marked.error());
    TakeOffline(id, 8, *marked, done);
  }));
}

// Refused while too few other servers answer; asked again a few times first, since a
// status request a busy server misses does not make it gone.
void Dcm::TakeOffline(NodeId id, int attempts, const std::vector<NodeId>& marked, Reply done) {
  Impl& d = *impl_;
  d.client->Members(d.OnLoop([this, id, attempts, marked,
                              done](Result<std::vector<registry::EtcdMember>> members) {
    if (!members) return done(members.error());
    const registry::EtcdMember* gone = FindMember(*members, id, "");
    if (gone == nullptr || gone->learner) {
      return done(Error(Errc::kNotFound,
                        "node " + std::to_string(id) + " is not a registry server (a voter)"));
    }
    size_t voters = 0;
    std::vector<NodeId> counted;  // the other voters answering, not marked
    const registry::EtcdMember* heir = nullptr;
    for (const auto& m : *members) {
      if (m.learner) continue;
      ++voters;
      // A server already marked offline counts as gone, answering or not (it is stopping).
      const std::optional<NodeId> node = MemberNode(m.name);
      const bool is_marked = node && std::find(marked.begin(), marked.end(), *node) != marked.end();
      if (m.id != gone->id && m.answers && node && !is_marked) {
        counted.push_back(*node);
        heir = &m;
      }
    }
    if (counted.size() * 2 <= voters && attempts > 1) {
      return impl_->After(Duration::Millis(250), [this, id, attempts, marked, done] {
        TakeOffline(id, attempts - 1, marked, done);
      });
    }
    if (counted.size() * 2 <= voters) {
      return done(Error(Errc::kInvalidArgument,
                        "taking node " + std::to_string(id) +
                            "'s registry server offline would "
                            "leave " +
                            std::to_string(counted.size()) + " of " + std::to_string(voters) +
                            " servers answering: the registry would become read-only"));
    }
    if (gone->leader) {
      // Leadership moves first, so writes go on without an election.
      return impl_->client->MoveLeader(
          heir->id, impl_->OnLoop([this, id, counted, attempts, done](Result<Ok> r) {
            if (!r) return done(r.error());
            MarkOffline(id, counted, attempts, done);
          }));
    }
    MarkOffline(id, counted, attempts, done);
  }));
}

// The mark is written only if none of the servers counted was marked meanwhile (another
// offline request at the same time); if one was, the check runs again on the new marks.
void Dcm::MarkOffline(NodeId id, const std::vector<NodeId>& counted, int attempts, Reply done) {
  Impl& d = *impl_;
  d.guard->Commit(
      schema::MarkOffline(d.cluster_id, id, counted),
      d.OnLoop([this, id, attempts, done](Result<registry::TxnResult> r) {
        if (!r) return done(r.error());
        if (!r->succeeded) {
          if (attempts <= 1) {
            return done(Error(Errc::kUnavailable,
                              "other registry servers went offline meanwhile: ask again"));
          }
          return OfflineServers(
              impl_->OnLoop([this, id, attempts, done](Result<std::vector<NodeId>> marked) {
                if (!marked) return done(marked.error());
                TakeOffline(id, attempts - 1, *marked, done);
              }));
        }
        impl_->Audit("registry_server_offline_asked", {{"node", std::to_string(id)}});
        WaitForAnswer(id, false, io::SteadyNow() + Duration::Seconds(30), done);
      }));
}

// Until node `id`'s server answers (or stops answering), as its own DCM follows the mark.
void Dcm::WaitForAnswer(NodeId id, bool answering, Instant deadline, Reply done) {
  impl_->client->Members(impl_->OnLoop(
      [this, id, answering, deadline, done](Result<std::vector<registry::EtcdMember>> members) {
        const registry::EtcdMember* m = members ? FindMember(*members, id, "") : nullptr;
        if (m != nullptr && m->answers == answering) {
          return done("node " + std::to_string(id) + "'s registry server is " +
                      (answering ? "online"
                                 : "offline (its data kept; `cohort registry server "
                                   "online " +
                                       std::to_string(id) + "` starts it again)"));
        }
        if (io::SteadyNow() >= deadline) {
          return done(Error(Errc::kUnavailable,
                            "node " + std::to_string(id) + "'s registry server is marked " +
                                (answering ? "online" : "offline") + ", but it did not " +
                                (answering ? "answer" : "stop") +
                                " within 30 s: its node's cohortd follows the mark when it runs"));
        }
        impl_->After(Duration::Millis(250), [this, id, answering, deadline, done] {
          WaitForAnswer(id, answering, deadline, done);
        });
      }));
}

void Dcm::OfflineServers(std::function<void(Result<std::vector<NodeId>>)> done) {
  Impl& d = *impl_;
  if (d.cluster_id.empty()) return done(std::vector<NodeId>{});
  d.guard->Range(schema::OfflinePrefix(d.cluster_id), 0, true,
                 d.OnLoop([done](Result<registry::RangeResult> r) {
                   if (!r) return done(r.error());
                   std::vector<NodeId> nodes;
                   for (const auto& kv : r->kvs) {
                     const std::string tail = kv.key.substr(kv.key.rfind('/') + 1);
                     const int id = std::atoi(tail.c_str());
                     if (id >= 1 && id <= 65535) nodes.push_back(static_cast<NodeId>(id));
                   }
                   done(std::move(nodes));
                 }));
}

}  // namespace cohort::dcm
