// The etcd client's internals, shared by its source files (etcd.cc: the key-value and
// cluster calls; etcd_lease.cc: leases). Included by those only: gRPC stays out of etcd.h.
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "registry/etcd.h"

namespace cohort::registry {
namespace etcd_detail {

// A channel of its own per server (no subchannel shared with another channel), so that a
// fresh one (Impl::Reconnect) really makes a new connection attempt at once.
inline grpc::ChannelArguments ChannelArgs() {
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
inline constexpr std::chrono::milliseconds kReconnectEvery{500};

namespace pb = etcdserverpb;

// The end of etcd's half-open key range [prefix, end) that holds every key with `prefix`.
inline std::string PrefixEnd(const std::string& prefix) {
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

inline KeyValue FromPb(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(),          kv.value(),   kv.create_revision(),
                  kv.mod_revision(), kv.version(), kv.lease()};
}

inline void ToPb(const RequestOp& op, pb::RequestOp* out) {
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
      r->set_lease(op.lease);
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

inline void ToPb(const Compare& c, pb::Compare* out) {
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
inline bool TryNext(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

inline Error FromGrpc(const grpc::Status& s, const std::string& endpoint) {
  const Errc code = TryNext(s) ? Errc::kUnavailable : Errc::kInternal;
  return Error(code, "registry server " + endpoint + ": " + s.error_message());
}

}  // namespace etcd_detail

using namespace etcd_detail;  // NOLINT: the client's own helpers

struct EtcdRegistry::Impl {
  struct Server {
    std::string endpoint;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::KV::Stub> kv;
    std::unique_ptr<pb::Maintenance::Stub> maintenance;
    std::unique_ptr<pb::Cluster::Stub> cluster;
    std::unique_ptr<pb::Lease::Stub> lease;
    std::chrono::steady_clock::time_point connected;
  };
  struct WatchState {
    grpc::ClientContext context;
    std::thread thread;
    std::string endpoint;                  // the server it streams from
    std::atomic<bool> cancelled{false};    // by the caller: the stream's end is no news
    std::atomic<bool> server_down{false};  // ended by SetDown: the watcher opens it elsewhere
  };

  EtcdOptions options;
  // Replaced only by the worker (SetEndpoints), under servers_mu; the worker reads it
  // freely, Watch on the caller's thread under servers_mu.
  std::vector<Server> servers;
  std::mutex servers_mu;
  // The server that answered last: written by the worker, read by Watch on the caller's.
  std::atomic<size_t> current{0};
  // Servers on nodes the membership has declared failed (SetDown): passed over while
  // another is not, so that a dead server costs no attempt's timeout. Guarded by servers_mu.
  std::set<std::string> down;
  // The attempt the worker waits on, which SetDown cuts short when its server goes down.
  std::mutex inflight_mu;
  grpc::ClientContext* inflight = nullptr;  // guarded by inflight_mu
  std::string inflight_endpoint;            // guarded by inflight_mu
  bool inflight_cut = false;                // guarded by inflight_mu: SetDown cancelled it

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
    s.lease = pb::Lease::NewStub(s.channel);
    s.connected = std::chrono::steady_clock::now();
  }

  // Runs `rpc` against one server, within the per-attempt deadline. Worker thread only.
  template <typename Rpc>
  grpc::Status CallOn(Server& s, const Rpc& rpc) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::nanoseconds(options.timeout.nanos()));
    {
      std::lock_guard lock(inflight_mu);
      inflight = &context;
      inflight_endpoint = s.endpoint;
      inflight_cut = false;
    }
    // Checked after the attempt is published: a SetDown before this is seen here, one
    // after it cancels the attempt.
    const bool passed_over = PassOver(s);
    grpc::Status status = passed_over ? grpc::Status::CANCELLED : rpc(s, &context);
    bool cut = passed_over;
    {
      std::lock_guard lock(inflight_mu);
      inflight = nullptr;  // before `context` goes
      cut = cut || inflight_cut;
    }
    if (cut) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "its node was declared failed");
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        std::chrono::steady_clock::now() - s.connected >= kReconnectEvery) {
      std::lock_guard lock(servers_mu);  // Watch copies the channel under it
      OpenChannel(s);
    }
    return status;
  }

  // Whether the server at `endpoint` is left alone: on a node declared failed while another
  // server is not. With every server so marked (this node cut off, or the word wrong), each
  // is still used. Every attempt asks (CallOn), and the mark may come while one waits.
  bool PassOver(const std::string& endpoint) {
    std::lock_guard lock(servers_mu);
    return PassOverLocked(endpoint);
  }
  bool PassOver(const Server& s) { return PassOver(s.endpoint); }
  bool PassOverLocked(const std::string& endpoint) const {  // servers_mu held
    if (down.count(endpoint) == 0) return false;
    return std::any_of(servers.begin(), servers.end(),
                       [&](const Server& other) { return down.count(other.endpoint) == 0; });
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

}  // namespace cohort::registry
