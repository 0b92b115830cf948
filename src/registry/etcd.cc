#include "registry/etcd.h"

#include "registry/etcd_impl.h"

namespace cohort::registry {

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const std::optional<EtcdTls>& tls) {
  if (!tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls->ca_pem;
  ssl.pem_cert_chain = tls->cert_pem;
  ssl.pem_private_key = tls->key_pem;
  return grpc::SslCredentials(ssl);
}

EtcdRegistry::EtcdRegistry(EtcdOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
EtcdRegistry::~EtcdRegistry() = default;

void EtcdRegistry::Range(const std::string& prefix, size_t limit, bool serializable,
                         Done<RangeResult> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, prefix, limit, serializable, done] {
    pb::RangeRequest req;
    req.set_key(prefix);
    req.set_range_end(PrefixEnd(prefix));
    req.set_limit(static_cast<int64_t>(limit));
    req.set_serializable(serializable);
    pb::RangeResponse resp;
    auto r = impl->Call(
        [&](Impl::Server& s, grpc::ClientContext* c) { return s.kv->Range(c, req, &resp); });
    if (!r) return impl->Answer<RangeResult>(done, r.error());
    RangeResult out;
    for (const auto& kv : resp.kvs()) out.kvs.push_back(FromPb(kv));
    out.revision = resp.header().revision();
    out.more = resp.more();
    impl->Answer<RangeResult>(done, std::move(out));
  });
}

void EtcdRegistry::Get(const std::string& key, bool serializable,
                       Done<std::optional<KeyValue>> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, key, serializable, done] {
    pb::RangeRequest req;
    req.set_key(key);
    req.set_serializable(serializable);
    pb::RangeResponse resp;
    auto r = impl->Call(
        [&](Impl::Server& s, grpc::ClientContext* c) { return s.kv->Range(c, req, &resp); });
    if (!r) return impl->Answer<std::optional<KeyValue>>(done, r.error());
    std::optional<KeyValue> out;
    if (resp.kvs_size() > 0) out = FromPb(resp.kvs(0));
    impl->Answer<std::optional<KeyValue>>(done, std::move(out));
  });
}

void EtcdRegistry::Commit(const Txn& txn, Done<TxnResult> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, txn, done] {
    pb::TxnRequest req;
    for (const Compare& c : txn.compares) ToPb(c, req.add_compare());
    for (const RequestOp& op : txn.success) ToPb(op, req.add_success());
    for (const RequestOp& op : txn.failure) ToPb(op, req.add_failure());
    pb::TxnResponse resp;
    auto r = impl->Call(
        [&](Impl::Server& s, grpc::ClientContext* c) { return s.kv->Txn(c, req, &resp); });
    if (!r) return impl->Answer<TxnResult>(done, r.error());
    TxnResult out;
    out.succeeded = resp.succeeded();
    out.revision = resp.header().revision();
    for (const auto& op : resp.responses()) {
      OpResult one;
      if (op.has_response_range()) {
        for (const auto& kv : op.response_range().kvs()) one.kvs.push_back(FromPb(kv));
      } else if (op.has_response_delete_range()) {
        one.deleted = op.response_delete_range().deleted();
      }
      out.results.push_back(std::move(one));
    }
    impl->Answer<TxnResult>(done, std::move(out));
  });
}

// Plain KV writes: a one-operation transaction costs etcd noticeably more (bench/).
void EtcdRegistry::Put(const std::string& key, const std::string& value, Done<int64_t> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, key, value, done] {
    pb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    pb::PutResponse resp;
    auto r = impl->Call(
        [&](Impl::Server& s, grpc::ClientContext* c) { return s.kv->Put(c, req, &resp); });
    if (!r) return impl->Answer<int64_t>(done, r.error());
    impl->Answer<int64_t>(done, resp.header().revision());
  });
}

void EtcdRegistry::Delete(const std::string& key, Done<int64_t> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, key, done] {
    pb::DeleteRangeRequest req;
    req.set_key(key);
    pb::DeleteRangeResponse resp;
    auto r = impl->Call(
        [&](Impl::Server& s, grpc::ClientContext* c) { return s.kv->DeleteRange(c, req, &resp); });
    if (!r) return impl->Answer<int64_t>(done, r.error());
    impl->Answer<int64_t>(done, resp.deleted());
  });
}

Result<WatchId> EtcdRegistry::Watch(
    const std::string& prefix, int64_t from_revision,
    std::function<void(Result<std::vector<WatchEvent>>)> on_events) {
  if (from_revision < 0) {
    return Error(Errc::kInvalidArgument, "watch revision must be 0 (from now) or positive");
  }
  Impl* impl = impl_.get();
  auto state = std::make_unique<Impl::WatchState>();
  Impl::WatchState* w = state.get();
  std::shared_ptr<grpc::Channel> channel;
  {
    std::lock_guard lock(impl->servers_mu);
    if (impl->servers.empty()) return Error(Errc::kUnavailable, "no registry servers configured");
    // The server that answered last, unless its node was declared failed since.
    const size_t n = impl->servers.size();
    const size_t first = impl->current % n;
    size_t pick = first;
    for (size_t k = 1; k < n && impl->PassOverLocked(impl->servers[pick].endpoint); ++k) {
      pick = (first + k) % n;
    }
    channel = impl->servers[pick].channel;
    w->endpoint = impl->servers[pick].endpoint;
  }
  // The watch stays on that server; when it ends, the watcher is told.
  auto stub = pb::Watch::NewStub(channel);
  // Set up on the watch's own thread: the caller (the node's loop) never waits for the
  // server; a watch that cannot be set up ends with its error through `on_events`.
  w->thread =
      std::thread([impl, w, stub = std::move(stub), prefix, from_revision, on_events]() mutable {
        auto end = [&](const Error& e) {
          if (w->cancelled) return;
          impl->Answer<std::vector<WatchEvent>>(
              on_events, w->server_down ? Error(Errc::kUnavailable,
                                                "registry server " + w->endpoint +
                                                    " is on a node declared failed; watch again")
                                        : e);
        };
        auto stream = stub->Watch(&w->context);
        pb::WatchRequest req;
        auto* create = req.mutable_create_request();
        create->set_key(prefix);
        create->set_range_end(PrefixEnd(prefix));
        create->set_start_revision(from_revision);
        if (!stream->Write(req)) {
          return end(Error(Errc::kUnavailable,
                           "cannot open a watch: " + stream->Finish().error_message()));
        }
        pb::WatchResponse resp;
        std::optional<Error> compacted;
        while (stream->Read(&resp)) {
          if (resp.compact_revision() > 0) {
            compacted =
                Error(Errc::kNotFound, "revision " + std::to_string(from_revision) +
                                           " has been compacted; watch from " +
                                           std::to_string(resp.compact_revision()) + " or later");
            w->context.TryCancel();  // so that Finish returns at once
            break;
          }
          if (resp.events_size() == 0) continue;
          std::vector<WatchEvent> events;
          for (const auto& e : resp.events()) {
            WatchEvent ev;
            ev.type = e.type() == mvccpb::Event::DELETE ? WatchEvent::Type::kDelete
                                                        : WatchEvent::Type::kPut;
            ev.kv = FromPb(e.kv());
            if (ev.type == WatchEvent::Type::kDelete) ev.kv.value.clear();
            events.push_back(std::move(ev));
          }
          impl->Answer<std::vector<WatchEvent>>(on_events, std::move(events));
        }
        // gRPC's contract: a stream is finished (its status read) before it is destroyed,
        // whether a server's restart, a cancel or a compaction ended it.
        const grpc::Status status = stream->Finish();
        if (compacted) return end(*compacted);
        end(Error(Errc::kUnavailable,
                  "the registry server ended the watch: " + status.error_message()));  // start over
      });
  std::lock_guard lock(impl->mu);
  const WatchId id = impl->next_watch++;
  impl->watches[id] = std::move(state);
  // SetDown may have marked the server between the pick and now, without seeing this watch.
  if (impl->PassOver(w->endpoint) && !w->server_down.exchange(true)) w->context.TryCancel();
  return id;
}

void EtcdRegistry::CancelWatch(WatchId id) {
  std::unique_ptr<Impl::WatchState> w;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->watches.find(id);
    if (it == impl_->watches.end()) return;
    w = std::move(it->second);
    impl_->watches.erase(it);
  }
  w->cancelled = true;
  w->context.TryCancel();
  w->thread.join();
}

void EtcdRegistry::SetEndpoints(std::vector<std::string> endpoints) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, endpoints = std::move(endpoints)] {
    std::lock_guard lock(impl->servers_mu);  // channels are made lazily: this is quick
    impl->servers = impl->Connect(endpoints, std::move(impl->servers));
    impl->current = 0;  // the most preferred first again
  });
}

void EtcdRegistry::SetDown(const std::vector<std::string>& endpoints) {
  Impl* impl = impl_.get();
  std::set<std::string> left_alone;  // the servers passed over from now on
  {
    std::lock_guard lock(impl->servers_mu);
    impl->down = std::set<std::string>(endpoints.begin(), endpoints.end());
    for (const std::string& e : impl->down) {
      if (impl->PassOverLocked(e)) left_alone.insert(e);
    }
  }
  // Not queued behind the worker: the point is to stop waiting on a dead server at once.
  {
    std::lock_guard lock(impl->inflight_mu);
    if (impl->inflight != nullptr && left_alone.count(impl->inflight_endpoint) != 0) {
      impl->inflight_cut = true;
      impl->inflight->TryCancel();
    }
  }
  std::lock_guard lock(impl->mu);
  for (auto& [id, w] : impl->watches) {
    if (left_alone.count(w->endpoint) == 0 || w->server_down.exchange(true)) continue;
    w->context.TryCancel();
  }
}

void EtcdRegistry::SetTls(std::optional<EtcdTls> tls) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, tls = std::move(tls)] {
    std::lock_guard lock(impl->servers_mu);
    impl->options.tls = tls;
    for (Impl::Server& s : impl->servers) impl->OpenChannel(s);
  });
}

void EtcdRegistry::Snapshot(Done<std::string> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, done] {
    std::string blob;
    auto r = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      blob.clear();
      // The whole store streams in: allow far longer than one request.
      c->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(2));
      auto reader = s.maintenance->Snapshot(c, pb::SnapshotRequest());
      pb::SnapshotResponse part;
      while (reader->Read(&part)) blob += part.blob();
      return reader->Finish();
    });
    if (!r) return impl->Answer<std::string>(done, r.error());
    impl->Answer<std::string>(done, std::move(blob));
  });
}

namespace {

EtcdMember FromPb(const pb::Member& m) {
  EtcdMember out;
  out.id = m.id();
  out.name = m.name();
  out.peer_urls.assign(m.peerurls().begin(), m.peerurls().end());
  out.client_urls.assign(m.clienturls().begin(), m.clienturls().end());
  out.learner = m.islearner();
  return out;
}

}  // namespace

void EtcdRegistry::Members(Done<std::vector<EtcdMember>> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, done] {
    pb::MemberListRequest req;
    pb::MemberListResponse resp;
    auto r = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      return s.cluster->MemberList(c, req, &resp);
    });
    if (!r) return impl->Answer<std::vector<EtcdMember>>(done, r.error());
    std::vector<EtcdMember> out;
    for (const auto& m : resp.members()) {
      EtcdMember member = FromPb(m);
      impl->AskStatus(&member);
      out.push_back(std::move(member));
    }
    impl->Answer<std::vector<EtcdMember>>(done, std::move(out));
  });
}

void EtcdRegistry::AddLearner(const std::string& peer_url, Done<uint64_t> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, peer_url, done] {
    pb::MemberAddRequest req;
    req.add_peerurls(peer_url);
    req.set_islearner(true);
    pb::MemberAddResponse resp;
    auto r = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      return s.cluster->MemberAdd(c, req, &resp);
    });
    if (!r) return impl->Answer<uint64_t>(done, r.error());
    impl->Answer<uint64_t>(done, resp.member().id());
  });
}

void EtcdRegistry::Promote(uint64_t member, Done<Ok> done) {
  impl_->MemberCall(member, &pb::Cluster::Stub::MemberPromote, std::nullopt, std::move(done));
}

void EtcdRegistry::Remove(uint64_t member, Done<Ok> done) {
  // "member not found" after a server that did not answer: that one removed it.
  impl_->MemberCall(member, &pb::Cluster::Stub::MemberRemove, grpc::StatusCode::NOT_FOUND,
                    std::move(done));
}

void EtcdRegistry::MoveLeader(uint64_t to, Done<Ok> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, to, done] {
    // Only the leader can hand leadership over: ask each server until one does.
    std::string last = "no registry server answered";
    for (auto& s : impl->servers) {
      if (impl->PassOver(s)) continue;
      grpc::ClientContext c;
      c.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::nanoseconds(impl->options.timeout.nanos()));
      pb::MoveLeaderRequest req;
      req.set_targetid(to);
      pb::MoveLeaderResponse resp;
      const grpc::Status st = s.maintenance->MoveLeader(&c, req, &resp);
      if (st.ok()) return impl->Answer<Ok>(done, Ok{});
      last = s.endpoint + ": " + st.error_message();
    }
    impl->Answer<Ok>(done,
                     Error(Errc::kUnavailable, "cannot move the registry leadership: " + last));
  });
}

void EtcdRegistry::Status(Done<RegistryStatus> done) {
  Impl* impl = impl_.get();
  impl->Enqueue([impl, done] {
    pb::StatusRequest req;
    pb::StatusResponse resp;
    auto r = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      return s.maintenance->Status(c, req, &resp);
    });
    if (!r) return impl->Answer<RegistryStatus>(done, r.error());
    RegistryStatus out;
    out.term = resp.raftterm();
    out.commit_index = resp.raftindex();
    out.revision = resp.header().revision();
    out.phase = resp.leader() != 0 ? Phase::kReadWrite : Phase::kReadOnly;
    // Members are named "n<node id>" by the configuration manager.
    pb::MemberListRequest mreq;
    pb::MemberListResponse members;
    auto m = impl->Call([&](Impl::Server& s, grpc::ClientContext* c) {
      return s.cluster->MemberList(c, mreq, &members);
    });
    if (m) {
      for (const auto& member : members.members()) {
        NodeId id = kNoNode;
        const std::string& name = member.name();
        if (name.size() > 1 && name[0] == 'n')
          id = static_cast<NodeId>(std::atoi(name.c_str() + 1));
        if (id != kNoNode) out.servers.push_back(id);
        if (member.id() != resp.leader()) continue;
        out.leader = id;
        if (member.id() != resp.header().member_id() && !impl->LeaderAnswers(member)) {
          out.phase = Phase::kReadOnly;
          out.leader = kNoNode;
        }
      }
    }
    impl->Answer<RegistryStatus>(done, std::move(out));
  });
}

}  // namespace cohort::registry
