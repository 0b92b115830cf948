#include "registry/etcd.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace cohort::registry {
namespace {

// A channel of its own per server (no subchannel shared with another channel), so that a
// fresh one (Impl::Reconnect) really makes a new connection attempt at once.
grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // No retries inside gRPC: Debian's gRPC (1.51) aborted cohortd on an assertion under
  // LoadBalancedCall::RecvTrailingMetadataReady (a status missing from trailing metadata)
  // when etcd closed a connection under a call — at every stop of a cluster's last node,
  // and probably once mid-test in CI. Call() already fails over and tries again itself.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  return args;
}

// gRPC waits up to its 20 s minimum connect timeout on a connection that an etcd still
// starting has accepted but does not serve yet, and then backs off from 1 s up to 120 s: a
// cold cluster's clients stayed read-only ~20 s after etcd had elected its leader. A
// server that fails an attempt gets a new channel instead, at most this often.
constexpr std::chrono::milliseconds kReconnectEvery{500};

namespace pb = etcdserverpb;

// The end of etcd's half-open key range [prefix, end) that holds every key with `prefix`.
std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

KeyValue FromPb(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.version()};
}

void ToPb(const RequestOp& op, pb::RequestOp* out) {
  switch (op.kind) {
    case RequestOp::Kind::kGet: {
      auto* r = out->mutable_request_range();
      r->set_key(op.key);
      if (op.prefix) r->set_range_end(PrefixEnd(op.key));
      break;
    }
    case RequestOp::Kind::kPut: {
      auto* r = out->mutable_request_put();
      r->set_key(op.key);
      r->set_value(op.value);
      break;
    }
    case RequestOp::Kind::kDelete: {
      auto* r = out->mutable_request_delete_range();
      r->set_key(op.key);
      if (op.prefix) r->set_range_end(PrefixEnd(op.key));
      break;
    }
  }
}

void ToPb(const Compare& c, pb::Compare* out) {
  out->set_key(c.key);
  switch (c.op) {
    case Compare::Op::kEqual:
      out->set_result(pb::Compare::EQUAL);
      break;
    case Compare::Op::kNotEqual:
      out->set_result(pb::Compare::NOT_EQUAL);
      break;
    case Compare::Op::kLess:
      out->set_result(pb::Compare::LESS);
      break;
    case Compare::Op::kGreater:
      out->set_result(pb::Compare::GREATER);
      break;
  }
  switch (c.target) {
    case Compare::Target::kValue:
      out->set_target(pb::Compare::VALUE);
      out->set_value(c.value);
      break;
    case Compare::Target::kModRevision:
      out->set_target(pb::Compare::MOD);
      out->set_mod_revision(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out->set_target(pb::Compare::CREATE);
      out->set_create_revision(c.number);
      break;
    case Compare::Target::kVersion:
      out->set_target(pb::Compare::VERSION);
      out->set_version(c.number);
      break;
  }
}

// Statuses after which another server may well answer.
bool TryNext(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

Error FromGrpc(const grpc::Status& s, const std::string& endpoint) {
  const Errc code = TryNext(s) ? Errc::kUnavailable : Errc::kInternal;
  return Error(code, "registry server " + endpoint + ": " + s.error_message());
}

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const std::optional<EtcdTls>& tls) {
  if (!tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = tls->ca_pem;
  ssl.pem_cert_chain = tls->cert_pem;
  ssl.pem_private_key = tls->key_pem;
  return grpc::SslCredentials(ssl);
}

struct EtcdRegistry::Impl {
  struct Server {
    std::string endpoint;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Maintenance::Stub> maintenance;
    std::unique_ptr<pb::Cluster::Stub> cluster;
    std::chrono::steady_clock::time_point connected;
  };
  struct WatchState {
    grpc::ClientContext context;
    std::thread thread;
    std::atomic<bool> cancelled{false};  // by the caller: the stream's end is no news
  };

  EtcdOptions options;
  // Replaced only by the worker (SetEndpoints), under servers_mu; the worker reads it
  // freely, Watch on the caller's thread under servers_mu.
  std::vector<Server> servers;
  std::mutex servers_mu;
  // The server that answered last: written by the worker, read by Watch on the caller's.
  std::atomic<size_t> current{0};

  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool stop = false;
  std::thread worker;
  std::map<WatchId, std::unique_ptr<WatchState>> watches;  // guarded by mu
  WatchId next_watch = 1;

  explicit Impl(EtcdOptions o) : options(std::move(o)) {
    servers = Connect(options.endpoints, {});
    worker = std::thread([this] { Work(); });
  }

  // Servers for `endpoints`, reusing the connections of `old` where the endpoint is kept.
  std::vector<Server> Connect(const std::vector<std::string>& endpoints,
                              std::vector<Server> old) const {
    std::vector<Server> out;
    for (const std::string& e : endpoints) {
      auto kept = std::find_if(old.begin(), old.end(),
                               [&](const Server& s) { return s.endpoint == e && s.channel; });
      if (kept != old.end()) {
        out.push_back(std::move(*kept));
        continue;
      }
      Server s;
      s.endpoint = e;
      OpenChannel(s);
      out.push_back(std::move(s));
    }
    return out;
  }

  ~Impl() {
    std::map<WatchId, std::unique_ptr<WatchState>> left;
    {
      std::lock_guard lock(mu);
      stop = true;
      left.swap(watches);
    }
    cv.notify_all();
    worker.join();
    for (auto& [id, w] : left) {
      w->cancelled = true;
      w->context.TryCancel();
      w->thread.join();
    }
  }

  void Work() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || !tasks.empty(); });
        if (tasks.empty()) return;
        task = std::move(tasks.front());
        tasks.pop_front();
      }
      task();
    }
  }

  void Enqueue(std::function<void()> task) {
    {
      std::lock_guard lock(mu);
      tasks.push_back(std::move(task));
    }
    cv.notify_one();
  }

  template <typename T>
  void Answer(const Done<T>& done, Result<T> r) {
    if (options.post) {
      auto shared = std::make_shared<Result<T>>(std::move(r));
      options.post([done, shared] { done(std::move(*shared)); });
    } else {
      done(std::move(r));
    }
  }

  // A Cluster call on one member whose answer carries nothing but success. A server that
  // does not answer in time may still have applied the change before Call asks the next
  // one; `done_already` is the code by which the next one says it is applied.
  template <typename Request, typename Response>
  void MemberCall(uint64_t member,
                  grpc::Status (pb::Cluster::Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                  std::optional<grpc::StatusCode> done_already, Done<Ok> done) {
    Enqueue([this, member, method, done_already, done] {
      Request req;
      req.set_id(member);
      Response resp;
      bool retried = false;
      auto r = Call([&](Server& s, grpc::ClientContext* c) {
        const grpc::Status st = (s.cluster.get()->*method)(c, req, &resp);
        const bool applied = retried && done_already && st.error_code() == *done_already;
        retried = true;
        return applied ? grpc::Status::OK : st;
      });
      if (!r) return Answer<Ok>(done, r.error());
      Answer<Ok>(done, Ok{});
    });
  }

  void OpenChannel(Server& s) const {
    s.channel =
        grpc::CreateCustomChannel(s.endpoint, ChannelCredentials(options.tls), ChannelArgs());
    s.kv = pb::KV::NewStub(s.channel);
    s.maintenance = pb::Maintenance::NewStub(s.channel);
    s.cluster = pb::Cluster::NewStub(s.channel);
    s.connected = std::chrono::steady_clock::now();
  }

  // Runs `rpc` against one server, within the per-attempt deadline. Worker thread only.
  template <typename Rpc>
  grpc::Status CallOn(Server& s, const Rpc& rpc) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::nanoseconds(options.timeout.nanos()));
    grpc::Status status = rpc(s, &context);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        std::chrono::steady_clock::now() - s.connected >= kReconnectEvery) {
      std::lock_guard lock(servers_mu);  // Watch copies the channel under it
      OpenChannel(s);
    }
    return status;
  }

  // The server whose client URL is `url` ("http://host:port"), or null.
  Server* ServerAt(const std::string& url) {
    const size_t scheme = url.find("://");
    const std::string endpoint = scheme == std::string::npos ? url : url.substr(scheme + 3);
    for (Server& s : servers) {
      if (s.endpoint == endpoint) return &s;
    }
    return nullptr;
  }

  // Whether `leader`, named by another member, answers a status as the leader itself. A
  // follower keeps naming a dead leader until its election timeout ends, and read-write on
  // that word would let writes in only to time out: the phase is read-write only while the
  // leader is reachable from here. A leader at a URL this client was not given is believed.
  bool LeaderAnswers(const pb::Member& leader) {
    bool known = false;
    auto status = StatusAt(leader.clienturls(), &known);
    return !known || (status && status->leader() == leader.id());
  }

  // Whether `member` answers at one of its client URLs, and as the leader. Worker thread.
  void AskStatus(EtcdMember* member) {
    bool known = false;
    auto status = StatusAt(member->client_urls, &known);
    member->answers = status.has_value();
    member->leader = status && status->leader() == member->id;
  }

  // A member's own status, from the first of its client URLs (those this client was given:
  // `known`) that answers. Worker thread.
  template <typename Urls>
  std::optional<pb::StatusResponse> StatusAt(const Urls& urls, bool* known) {
    for (const std::string& url : urls) {
      Server* s = ServerAt(url);
      if (s == nullptr) continue;
      *known = true;
      pb::StatusResponse resp;
      const grpc::Status st = CallOn(*s, [&](Server& on, grpc::ClientContext* c) {
        return on.maintenance->Status(c, pb::StatusRequest(), &resp);
      });
      if (st.ok()) return resp;
    }
    return std::nullopt;
  }

  // Runs `rpc` against the servers in order from the one that answered last; moves on when
  // a server is unreachable. Worker thread only.
  template <typename Rpc>
  Result<std::string> Call(const Rpc& rpc) {
    if (servers.empty()) return Error(Errc::kUnavailable, "no registry servers configured");
    std::string tried;
    Error last(Errc::kUnavailable, "");
    for (size_t n = 0; n < servers.size(); ++n) {
      const size_t index = (current + n) % servers.size();
      Server& s = servers[index];
      const grpc::Status status = CallOn(s, rpc);
      if (status.ok()) {
        current = index;
        return s.endpoint;
      }
      last = FromGrpc(status, s.endpoint);
      if (!TryNext(status)) return last;
      tried += (tried.empty() ? "" : ", ") + s.endpoint;
    }
    return Error(Errc::kUnavailable,
                 "no registry server answered (tried " + tried + "); last: " + last.message());
  }
};

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
  std::shared_ptr<grpc::Channel> channel;
  {
    std::lock_guard lock(impl->servers_mu);
    if (impl->servers.empty()) return Error(Errc::kUnavailable, "no registry servers configured");
    channel = impl->servers[impl->current % impl->servers.size()].channel;
  }
  auto state = std::make_unique<Impl::WatchState>();
  Impl::WatchState* w = state.get();
  // The watch stays on the server that answered last; when it ends, the watcher is told.
  auto stub = pb::Watch::NewStub(channel);
  // Set up on the watch's own thread: the caller (the node's loop) never waits for the
  // server; a watch that cannot be set up ends with its error through `on_events`.
  w->thread =
      std::thread([impl, w, stub = std::move(stub), prefix, from_revision, on_events]() mutable {
        auto end = [&](const Error& e) {
          if (!w->cancelled) impl->Answer<std::vector<WatchEvent>>(on_events, e);
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
