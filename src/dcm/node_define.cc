// C4, C6: the cluster's node definitions as an operator sees and changes them.
#include <thread>

#include "dcm/dcm_impl.h"
#include "io/http_client.h"

namespace cohort::dcm {

const LocalConfiguration& Dcm::local() const { return impl_->local; }

void Dcm::ListNodes(std::function<void(Result<std::vector<DefinedNode>>)> done) {
  Impl& d = *impl_;
  if (!has_registry()) return done(Error(Errc::kUnavailable, "this node has no registry"));
  if (d.cluster_id.empty()) {
    return done(Error(Errc::kUnavailable, "this node has not reached its cluster's registry yet"));
  }
  registry().Range(schema::NodesPrefix(d.cluster_id), 0, false,
                   d.OnLoop([done](Result<registry::RangeResult> r) {
                     if (!r) return done(r.error());
                     std::vector<DefinedNode> nodes;
                     for (const auto& kv : r->kvs) {
                       auto n = schema::ParseNodeDefinition(kv);
                       if (!n) return done(n.error());
                       nodes.push_back(*n);
                     }
                     std::sort(nodes.begin(), nodes.end(),
                               [](const auto& a, const auto& b) { return a.number < b.number; });
                     done(std::move(nodes));
                   }));
}

void Dcm::UndefineNode(NodeId id, std::function<void(Result<std::string>)> done) {
  Impl& d = *impl_;
  if (!has_registry()) return done(Error(Errc::kUnavailable, "this node has no registry"));
  if (d.cluster_id.empty() || d.node == nullptr) {
    return done(Error(Errc::kUnavailable, "this node has not reached its cluster's registry yet"));
  }
  if (id == d.config.node_id) {
    return done(Error(Errc::kInvalidArgument, "node " + std::to_string(id) +
                                                  " is the node you asked: stop it and run "
                                                  "`node undefine` against another member"));
  }
  const auto* member = d.node->membership().map().Find(id);
  if (member != nullptr && (member->state == membership::MemberState::kUp ||
                            member->state == membership::MemberState::kJoining)) {
    return done(Error(Errc::kInvalidArgument,
                      "node " + std::to_string(id) + " is " +
                          membership::MemberStateName(member->state) +
                          ": stop it first (it cleans up its own definition when it comes back)"));
  }
  const std::string cluster = d.cluster_id;
  registry().Commit(
      schema::ReadNodeRecord(cluster, id),
      d.OnLoop([this, id, cluster, done](Result<registry::TxnResult> read) {
        if (!read) return done(read.error());
        auto record = schema::ParseNodeRecord(*read, id);
        if (!record) return done(record.error());
        if (!record->definition) {
          return done(Error(Errc::kNotFound, "node " + std::to_string(id) +
                                                 " is not defined in cluster " +
                                                 impl_->config.cluster_name));
        }
        auto definition = schema::ParseNodeDefinition(*record->definition);
        const std::string uid = definition ? definition->uid : "";
        registry().Commit(
            schema::RemoveNodeRecord(cluster, id, *record),
            impl_->OnLoop([this, id, uid, done](Result<registry::TxnResult> r) {
              if (!r) return done(r.error());
              if (!r->succeeded) {
                return done(Error(Errc::kUnavailable, "node " + std::to_string(id) +
                                                          "'s definition changed meanwhile: "
                                                          "try again"));
              }
              impl_->Audit("node_undefine", {{"node", std::to_string(id)}, {"uid", uid}});
              Log(LogLevel::kInfo, "dcm", "node undefined",
                  {{"node", std::to_string(id)}, {"uid", uid}});
              done("node " + std::to_string(id) + " undefined (uid " + uid + ")");
            }));
      }));
}

// ---- C7: the member's side of a node definition ----

namespace {
constexpr int64_t kPendingMs = 60'000;  // a definition not confirmed by then is swept
}  // namespace

void Dcm::Impl::SweepPending() {
  if (node == nullptr || node->membership().role() != membership::Role::kSupervisor) return;
  guard->Range(
      schema::NodesPrefix(cluster_id), 0, false, OnLoop([this](Result<registry::RangeResult> r) {
        if (!r) return;
        std::vector<DefinedNode> nodes;
        for (const auto& kv : r->kvs) {
          if (auto n = schema::ParseNodeDefinition(kv)) nodes.push_back(*n);
        }
        std::vector<NodeId> up;
        for (const auto& [id, m] : node->membership().map().members) {
          if (m.state == membership::MemberState::kUp) up.push_back(id);
        }
        for (const auto& n : SweepablePending(nodes, io::WallMillis(), up)) {
          guard->Commit(schema::RemoveNode(cluster_id, n.number, n.uid, n.revision),
                        [](Result<registry::TxnResult>) {});
          Audit("node_definition_swept", {{"node", std::to_string(n.number)}, {"uid", n.uid}});
        }
      }));
}

struct Dcm::Definition {
  NodeDefine protocol;
  Endpoint target;
  wire::Key key;
  std::string request = wire::RandomHex(8);
  int64_t read_revision = 0;  // of the definitions the protocol decided on
  std::function<void(Result<std::string>)> done;
};

void Dcm::DefineNode(const Endpoint& target, const std::string& join_token,
                     std::optional<NodeId> number, const std::string& name,
                     std::function<void(Result<std::string>)> done) {
  Impl& d = *impl_;
  if (!has_registry() || d.cluster_id.empty() || d.node == nullptr ||
      registry_state() != "read-write") {
    return done(Error(Errc::kUnavailable, "the registry must be read-write to define a node"));
  }
  if (join_token.size() != 64) {
    return done(Error(Errc::kInvalidArgument,
                      "a join token is 64 hex digits, as `cohort join-token` prints it"));
  }
  auto def = std::make_shared<Definition>(
      Definition{NodeDefine({d.config.cluster_name, number, name}), target, JoinKey(join_token)});
  def->done = std::move(done);
  Step(def, def->protocol.Start());
}

void Dcm::Send(std::shared_ptr<Definition> def, DefineMessage m) {
  Impl& d = *impl_;
  m.request = def->request;
  m.cluster_id = d.cluster_id;
  m.cluster_name = d.config.cluster_name;
  const std::string sealed = SealDefine(def->key, m);
  const DefineOp op = m.op;
  auto deliver = [this, def, op](Result<DefineAnswer> answer) {
    if (op == DefineOp::kHello) {
      if (!answer) return Step(def, def->protocol.OnTargetAnswer(answer.error()));
      return Step(def, def->protocol.OnTargetAnswer(
                           TargetAnswer{answer->uid, answer->kept_number, answer->kept_uid}));
    }
    Status s = OkStatus();
    if (!answer)
      s = answer.error();
    else if (!answer->ok)
      s = Error(Errc::kUnavailable, answer->error);
    if (op == DefineOp::kCommit) return Step(def, def->protocol.OnTargetCommitted(s));
    Step(def, def->protocol.OnTargetAborted(s));
  };
  d.PostSealed(def->target, "/v1/dcm/define", def->key, def->request, sealed, std::move(deliver));
}

void Dcm::Impl::PostSealed(const Endpoint& target, const std::string& path, const wire::Key& key,
                           const std::string& request, const std::string& sealed,
                           std::function<void(Result<DefineAnswer>)> deliver) {
  // A blocking call on a thread of its own: one at a time per step, 5 s each.
  std::thread([loop = loop, alive = std::weak_ptr<bool>(alive), target, path, key, request, sealed,
               deliver = std::move(deliver)]() mutable {
    // The peer is not trusted yet: its whole answer within 5 s and 1 MiB.
    auto reply = io::HttpCall(target, "POST", path, sealed, "", 5000, 5000, 1 << 20);
    Result<DefineAnswer> answer = Error(Errc::kUnavailable, "no answer");
    if (!reply) {
      answer = reply.error();
    } else if (reply->status != 200) {
      const auto doc = nlohmann::json::parse(reply->body, nullptr, false);
      // A refusal is final; only a peer not serving this (yet) is unavailable.
      const Errc code = reply->status == 403 || reply->status == 401  ? Errc::kPermission
                        : reply->status >= 400 && reply->status < 500 ? Errc::kInvalidArgument
                                                                      : Errc::kUnavailable;
      answer = Error(code, doc.is_object() && doc.contains("error") && doc["error"].is_string()
                               ? doc["error"].get<std::string>()
                               : "HTTP " + std::to_string(reply->status));
    } else {
      answer = OpenAnswer(key, reply->body);
      if (answer && answer->request != request) {
        answer = Error(Errc::kPermission, "the answer is not to this request");
      }
    }
    std::lock_guard<std::mutex> lock(loop->mutex);
    if (loop->io == nullptr) return;  // the DCM stopped meanwhile
    // The callback moves to the loop: what it holds (a client's session) ends there.
    asio::post(*loop->io,
               [alive, deliver = std::move(deliver), answer = std::move(answer)]() mutable {
                 if (alive.lock()) deliver(std::move(answer));
               });
  }).detach();
}

// Step 11: what the node needs to start in this cluster — the key in use, whom to contact
// (this node's addresses and its seeds), the election order and the registry's servers.
DefineMessage Dcm::CommitMessage(const NodeDefine::Action& a) const {
  const Impl& d = *impl_;
  DefineMessage m{DefineOp::kCommit};
  m.number = a.number;
  m.name = a.name;
  m.uid = a.uid;
  if (auto ring = node::LoadKeyring(d.config); ring && ring->Find(ring->in_use()) != nullptr) {
    m.key = wire::KeyToText(*ring->Find(ring->in_use()));
  }
  for (const auto& adapter : d.config.adapters) m.seeds.push_back(adapter.listen);
  for (const auto& seed : d.config.seeds) {
    if (std::find(m.seeds.begin(), m.seeds.end(), seed) == m.seeds.end()) m.seeds.push_back(seed);
  }
  m.priority = d.config.priority;
  m.registry_servers = d.local.registry_servers;
  m.registry_heartbeat_ms = d.config.registry_heartbeat_ms;
  m.registry_election_ms = d.config.registry_election_ms;
  return m;
}

void Dcm::Step(std::shared_ptr<Definition> def, NodeDefine::Action a) {
  Impl& d = *impl_;
  using Kind = NodeDefine::Kind;
  const std::string cluster = d.cluster_id;
  // What the node writes itself once it runs (its disks, its API address) it adds then.
  auto doc = [&](int64_t pending_until) {
    DefinedNode n;
    n.number = a.number;
    n.name = a.name;
    n.uid = a.uid;
    n.pending_until_ms = pending_until;
    return schema::NodeDocument(n, {});
  };
  switch (a.kind) {
    case Kind::kAskTarget:
      return Send(def, DefineMessage{DefineOp::kHello});
    case Kind::kReadNodes:
      return d.guard->Range(schema::NodesPrefix(cluster), 0, false,
                            d.OnLoop([this, def](Result<registry::RangeResult> r) {
                              if (!r) return Step(def, def->protocol.OnNodesRead(r.error()));
                              def->read_revision = r->revision;
                              std::vector<DefinedNode> nodes;
                              for (const auto& kv : r->kvs) {
                                auto n = schema::ParseNodeDefinition(kv);
                                if (!n) return Step(def, def->protocol.OnNodesRead(n.error()));
                                const auto* m = impl_->node->membership().map().Find(n->number);
                                n->up =
                                    m != nullptr && (m->state == membership::MemberState::kUp ||
                                                     m->state == membership::MemberState::kJoining);
                                nodes.push_back(*n);
                              }
                              Step(def, def->protocol.OnNodesRead(std::move(nodes)));
                            }));
    case Kind::kWriteGlobal:
      return d.guard->Commit(
          schema::DefinePending(cluster, a.number, doc(io::WallMillis() + kPendingMs), a.uid,
                                a.stale, def->read_revision),
          d.OnLoop([this, def](Result<registry::TxnResult> r) {
            if (!r) return Step(def, def->protocol.OnGlobalWritten(r.error()));
            Step(def, def->protocol.OnGlobalWritten(
                          r->succeeded ? std::optional<int64_t>(r->revision) : std::nullopt));
          }));
    case Kind::kCommitTarget:
      return Send(def, CommitMessage(a));
    case Kind::kConfirmGlobal:
      return d.guard->Commit(
          schema::ConfirmDefinition(cluster, a.number, doc(0), a.revision),
          d.OnLoop([this, def, cluster, a](Result<registry::TxnResult> r) {
            if (r && r->succeeded) return Step(def, def->protocol.OnGlobalConfirmed(true));
            // Not confirmed by this call — perhaps by the node itself, which rewrites its
            // definition once it runs, or by this call with its answer lost: look.
            impl_->guard->Get(
                schema::NodeKey(cluster, a.number), false,
                impl_->OnLoop([this, def, a](Result<std::optional<registry::KeyValue>> kv) {
                  if (!kv) return Step(def, def->protocol.OnGlobalConfirmed(kv.error()));
                  auto n = *kv ? schema::ParseNodeDefinition(**kv)
                               : Result<DefinedNode>(Error(Errc::kNotFound, "gone"));
                  Step(def, def->protocol.OnGlobalConfirmed(n && n->uid == a.uid &&
                                                            n->pending_until_ms == 0));
                }));
          }));
    case Kind::kRemoveGlobal:
      return d.guard->Commit(schema::RemoveNode(cluster, a.number, a.uid, a.revision),
                             d.OnLoop([this, def](Result<registry::TxnResult> r) {
                               if (!r) return Step(def, def->protocol.OnGlobalRemoved(r.error()));
                               Step(def, def->protocol.OnGlobalRemoved(r->succeeded));
                             }));
    case Kind::kAbortTarget: {
      DefineMessage abort{DefineOp::kAbort};
      abort.number = a.number;
      return Send(def, abort);
    }
    case Kind::kFinish:
      d.Audit("node_define", {{"node", std::to_string(a.number)},
                              {"target", def->target.ToString()},
                              {"outcome", a.ok ? "defined" : a.message}});
      Log(a.ok ? LogLevel::kInfo : LogLevel::kWarn, "dcm", "node definition",
          {{"outcome", a.message}});
      if (a.ok) return def->done(a.message);
      return def->done(Error(a.code, a.message));
  }
}

}  // namespace cohort::dcm
