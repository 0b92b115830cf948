// C4, C6: the cluster's node definitions as an operator sees and changes them.
#include "dcm/dcm_impl.h"

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
  registry().Get(
      schema::NodeKey(cluster, id), false,
      d.OnLoop([this, id, cluster, done](Result<std::optional<registry::KeyValue>> kv) {
        if (!kv) return done(kv.error());
        if (!*kv) {
          return done(Error(Errc::kNotFound, "node " + std::to_string(id) +
                                                 " is not defined in cluster " +
                                                 impl_->config.cluster_name));
        }
        auto record = schema::ParseNodeDefinition(**kv);
        const std::string uid = record ? record->uid : "";
        registry().Commit(
            schema::RemoveNode(cluster, id, uid, (**kv).mod_revision),
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

}  // namespace cohort::dcm
