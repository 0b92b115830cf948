#include "dcm/node_control.h"

#include "dcm/dcm_impl.h"

namespace cohort::dcm {
namespace {

// The checks and the action, once `m` opened with a key of cluster `c`.
DefineAnswer Act(LocalClusters& clusters, const ClusterDefinition& c, const DefineMessage& m,
                 int64_t now_ms, bool* restart) {
  DefineAnswer a;
  a.request = m.request;
  LocalConfiguration& local = clusters.local();
  Result<ClusterChange> change = Error(Errc::kInvalidArgument, "not a control operation");
  if (m.op != DefineOp::kOnline && m.op != DefineOp::kOffline) {
    // change stays the error above
  } else if (m.cluster_id != c.id || m.number != c.node) {
    change = Error(Errc::kInvalidArgument, "this node is node " + std::to_string(c.node) +
                                               " of cluster " + c.name + ", not node " +
                                               std::to_string(m.number));
  } else if (m.sent_ms <= local.control_ms || m.sent_ms < now_ms - kControlWindowMs ||
             m.sent_ms > now_ms + kControlWindowMs) {
    change = Error(Errc::kPermission, "a stale or replayed request (sent at " +
                                          std::to_string(m.sent_ms) +
                                          " ms; the clocks must agree within a minute)");
  } else {
    local.control_ms = m.sent_ms;
    change = m.op == DefineOp::kOnline ? clusters.Online(c.id) : clusters.Offline(c.id);
  }
  a.ok = static_cast<bool>(change);
  if (!change) a.error = change.error().message();
  *restart = change && change->restart;
  (void)clusters.storage().Audit(std::string("node_control_") + DefineOpName(m.op),
                                 {{"cluster", c.name},
                                  {"id", c.id},
                                  {"node", std::to_string(m.number)},
                                  {"by", clusters.requester()},
                                  {"outcome", a.ok ? "ok" : a.error}});
  return a;
}

}  // namespace

Result<ControlReply> AnswerControl(const Config& file, LocalClusters& clusters,
                                   std::string_view sealed, int64_t now_ms) {
  const std::vector<ClusterDefinition> defined = clusters.local().clusters;
  for (const ClusterDefinition& c : defined) {
    auto config = ClusterConfig(file, clusters.local(), c.id);
    if (!config || !*config) continue;
    auto ring = node::LoadKeyring(**config);
    if (!ring) continue;
    for (const wire::KeyId id : ring->Ids()) {
      const wire::Key key = ControlKey(*ring->Find(id));
      auto m = OpenDefine(key, sealed);
      if (!m) continue;
      ControlReply reply;
      const DefineAnswer a = Act(clusters, c, *m, now_ms, &reply.restart);
      reply.sealed = SealAnswer(key, a);
      return reply;
    }
  }
  return Error(Errc::kPermission,
               "the message opens with no key of a cluster this node is defined to");
}

void Dcm::SetNodeOnline(NodeId id, bool online, std::function<void(Result<std::string>)> done) {
  Impl& d = *impl_;
  if (!has_registry() || d.cluster_id.empty() || d.node == nullptr) {
    return done(Error(Errc::kUnavailable, "this node has not reached its cluster's registry yet"));
  }
  const std::string self = "node " + std::to_string(id);
  const bool up = d.node->membership().map().IsUp(id);
  if (online && up) return done(self + " is online in cluster " + d.config.cluster_name);
  if (!online && !up) {
    return done(
        Error(Errc::kInvalidArgument, self + " is not online in cluster " + d.config.cluster_name));
  }
  if (id == d.config.node_id) {  // offline: this very node
    auto change = Clusters().Offline(d.cluster_id);
    if (!change) return done(change.error());
    Restart();
    return done(change->message);
  }
  auto ring = node::LoadKeyring(d.config);
  if (!ring || ring->Find(ring->in_use()) == nullptr) {
    return done(Error(Errc::kUnavailable, "this node has no cluster key in use"));
  }
  const wire::Key key = ControlKey(*ring->Find(ring->in_use()));
  registry().Get(
      schema::NodeKey(d.cluster_id, id), false,
      d.OnLoop([this, id, online, key, self, done](Result<std::optional<registry::KeyValue>> kv) {
        Impl& impl = *impl_;
        if (!kv) return done(kv.error());
        auto n = *kv ? schema::ParseNodeDefinition(**kv)
                     : Result<DefinedNode>(Error(Errc::kNotFound, "not defined"));
        if (!n) {
          return done(Error(Errc::kNotFound,
                            self + " is not defined in cluster " + impl.config.cluster_name));
        }
        auto api = Endpoint::Parse(n->api);
        if (!api) {
          return done(Error(Errc::kUnavailable, self + " has not published its API address (it "
                                                       "has not run in this cluster yet)"));
        }
        DefineMessage m{online ? DefineOp::kOnline : DefineOp::kOffline};
        m.request = wire::RandomHex(8);
        m.cluster_id = impl.cluster_id;
        m.cluster_name = impl.config.cluster_name;
        m.number = id;
        m.sent_ms = io::WallMillis();
        impl.Audit(online ? "node_online_asked" : "node_offline_asked",
                   {{"node", std::to_string(id)}});
        const std::string cluster = impl.config.cluster_name;
        const std::string text = online ? self + " starts in cluster " + cluster
                                        : self + " leaves cluster " + cluster + " and waits";
        PostControl(*api, key, m, SealDefine(key, m), text, 25, std::move(done));
      }));
}

// A node that was just taken offline is starting again and refuses connections for a
// moment: the message goes again, every 200 ms, `attempts` times in all. Nothing else is
// retried: an answer, even a refusal, is final.
void Dcm::PostControl(const Endpoint& api, const wire::Key& key, const DefineMessage& m,
                      const std::string& sealed, const std::string& text, int attempts,
                      std::function<void(Result<std::string>)> done) {
  const std::string self = "node " + std::to_string(m.number);
  impl_->PostSealed(
      api, "/v1/dcm/control", key, m.request, sealed,
      [this, api, key, m, sealed, text, attempts, self, done](Result<DefineAnswer> a) {
        // Unavailable: not reached, or not serving this yet (io::HttpCall, PostSealed).
        if (!a && a.error().code() == Errc::kUnavailable && attempts > 1) {
          return impl_->After(Duration::Millis(200), [=, this] {
            PostControl(api, key, m, sealed, text, attempts - 1, done);
          });
        }
        if (!a) return done(a.error());
        if (!a->ok) return done(Error(Errc::kUnavailable, self + ": " + a->error));
        done(text);
      });
}

void Dcm::ModifyNode(NodeId id, const std::string& name,
                     std::function<void(Result<std::string>)> done) {
  Impl& d = *impl_;
  if (!has_registry() || d.cluster_id.empty()) {
    return done(Error(Errc::kUnavailable, "this node has not reached its cluster's registry yet"));
  }
  if (name.empty() || name.size() > 64) {
    return done(Error(Errc::kInvalidArgument, "a node name is 1 to 64 characters"));
  }
  const std::string cluster = d.cluster_id;
  registry().Get(
      schema::NodeKey(cluster, id), false,
      d.OnLoop([this, id, name, cluster, done](Result<std::optional<registry::KeyValue>> kv) {
        if (!kv) return done(kv.error());
        json doc = *kv ? json::parse((**kv).value, nullptr, false) : json();
        if (!doc.is_object()) {
          return done(Error(Errc::kNotFound, "node " + std::to_string(id) +
                                                 " is not defined in cluster " +
                                                 impl_->config.cluster_name));
        }
        const std::string before =
            doc.contains("name") && doc["name"].is_string() ? doc["name"].get<std::string>() : "";
        doc["name"] = name;
        registry().Commit(
            schema::ConfirmDefinition(cluster, id, schema::Document(doc), (**kv).mod_revision),
            impl_->OnLoop([this, id, name, before, done](Result<registry::TxnResult> r) {
              if (!r) return done(r.error());
              if (!r->succeeded) {
                return done(Error(Errc::kUnavailable, "node " + std::to_string(id) +
                                                          "'s definition changed meanwhile: "
                                                          "try again"));
              }
              if (id == impl_->config.node_id) impl_->name = name;
              impl_->Audit("node_modified",
                           {{"node", std::to_string(id)}, {"name", name}, {"previous", before}});
              done("node " + std::to_string(id) + " is now named " + name);
            }));
      }));
}

// The registry's name wins over this node's own (`node modify` may have changed it), so the
// definition is read back before it is written, and written only if unchanged since.
void Dcm::Impl::PublishNodeDocument() {
  publishing = true;
  guard->Get(schema::NodeKey(cluster_id, config.node_id), false,
             OnLoop([this](Result<std::optional<registry::KeyValue>> kv) {
               publishing = false;
               if (!kv || !*kv) return;  // the identity check writes a missing one
               if (auto n = schema::ParseNodeDefinition(**kv); n && !n->name.empty()) {
                 name = n->name;
               }
               const std::string text = NodeDefinition();
               if ((**kv).value == text) {
                 node_doc_written = text;
                 return Publish();
               }
               publishing = true;
               guard->Commit(
                   schema::ConfirmDefinition(cluster_id, config.node_id, text, (**kv).mod_revision),
                   OnLoop([this, text](Result<registry::TxnResult> r) {
                     publishing = false;
                     if (!r || !r->succeeded) return;  // the next poll tries again
                     node_doc_written = text;
                     Publish();
                   }));
             }));
}

}  // namespace cohort::dcm
