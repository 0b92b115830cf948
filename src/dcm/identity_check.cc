// C4, C8 on one node: before it publishes anything else in a cluster, the node reads its
// definition and its UID's claim from the registry and acts on what identity.h decides.
#include "dcm/dcm_impl.h"

namespace cohort::dcm {

ClusterDefinition* Dcm::Impl::LocalDefinition() {
  for (auto& c : local.clusters) {
    if (c.id == cluster_id) return &c;
  }
  return nullptr;
}

// The UID this node was last defined with in the current cluster, under its current number.
std::string Dcm::Impl::LocalUid() {
  const ClusterDefinition* def = LocalDefinition();
  return def != nullptr && def->node == config.node_id ? def->uid : "";
}

void Dcm::Impl::CheckIdentity() {
  if (identity == IdentityState::kChecking || identity == IdentityState::kRefused) return;
  identity = IdentityState::kChecking;
  publishing = true;
  guard->Commit(schema::ReadIdentity(cluster_id, config.node_id, original_uid),
                OnLoop([this](Result<registry::TxnResult> r) {
                  publishing = false;
                  identity = IdentityState::kUnchecked;
                  if (!r) return;  // read-only or unreachable: the next poll asks again
                  auto seen = schema::ParseIdentity(*r);
                  if (!seen) {
                    Log(LogLevel::kError, "dcm", "bad node definition in the registry",
                        {{"error", seen.error().message()}});
                    return;
                  }
                  ActOnIdentity(*seen);
                }));
}

void Dcm::Impl::ActOnIdentity(const schema::IdentityRead& seen) {
  if (!seen.global_name.empty()) name = seen.global_name;  // `node modify` may have set it
  if (LocalDefinition() == nullptr) {
    local.clusters.push_back({config.cluster_name, cluster_id, config.node_id, "", false});
  }
  // The node that defined its cluster (C3) writes its own definition at its first join.
  const bool founder = LocalDefinition()->founder;
  const IdentityFacts facts{original_uid,    founder ? "" : LocalUid(),
                            seen.global_uid, config.node_id,
                            seen.claimed_by, !config.defined_at_run_time || founder};
  const IdentityAction action = DecideIdentity(facts);
  switch (action) {
    case IdentityAction::kJoin:
      identity = IdentityState::kSettled;
      return Publish();
    case IdentityAction::kAdopt:
      LocalDefinition()->node = config.node_id;
      LocalDefinition()->uid = original_uid;
      SaveLocal();
      Audit("node_definition_adopted",
            {{"node", std::to_string(config.node_id)}, {"uid", original_uid}});
      identity = IdentityState::kSettled;
      return Publish();
    case IdentityAction::kCleanUpLocal:
      CleanUpLocal(facts);
      return ActOnIdentity(seen);  // decided again, with no local copy
    case IdentityAction::kDefine:
      return WriteIdentity(seen, "", "node_defined");
    case IdentityAction::kCorrectUid:
      return WriteIdentity(seen, facts.local, "node_uid_replaced");
    case IdentityAction::kRefuseClone:
    case IdentityAction::kRefuseNumberTaken:
    case IdentityAction::kRefuseUndefined:
      return Refuse(action, facts);
  }
}

// Global first, then local: a crash in between leaves a global definition this machine
// adopts at its next start (or, after a UID change, cleans up and adopts).
void Dcm::Impl::WriteIdentity(const schema::IdentityRead& seen, const std::string& old_uid,
                              const std::string& event) {
  const std::string doc = NodeDefinition();
  publishing = true;
  identity = IdentityState::kChecking;
  guard->Commit(
      schema::WriteIdentity(cluster_id, config.node_id, doc, original_uid, seen, old_uid),
      OnLoop([this, doc, old_uid, event](Result<registry::TxnResult> r) {
        publishing = false;
        identity = IdentityState::kUnchecked;
        if (!r) return;
        if (!r->succeeded) return CheckIdentity();  // changed since it was read: look again
        ClusterDefinition* def = LocalDefinition();
        def->node = config.node_id;
        def->uid = original_uid;
        def->founder = false;
        SaveLocal();
        node_doc_written = doc;
        std::map<std::string, std::string> fields{{"node", std::to_string(config.node_id)},
                                                  {"uid", original_uid}};
        if (!old_uid.empty()) fields["previous_uid"] = old_uid;
        Audit(event, fields);
        if (event == "node_defined") {
          Log(LogLevel::kInfo, "dcm", "node defined in the cluster", {{"uid", original_uid}});
        } else {
          Log(LogLevel::kWarn, "dcm",
              "this machine's unique id changed (hardware replaced?): its "
              "definition follows",
              {{"uid", original_uid}, {"previous_uid", old_uid}});
        }
        identity = IdentityState::kSettled;
        Publish();
      }));
}

// Scenarios 2 and 4: the cluster no longer holds the definition this node kept, so what it
// kept for the cluster goes: the UID and the per-cluster folders.
void Dcm::Impl::CleanUpLocal(const IdentityFacts& facts) {
  ClusterDefinition* def = LocalDefinition();
  const std::string why = facts.global ? "the node number is now defined to uid " + *facts.global
                                       : "the node was undefined while it was away";
  def->uid.clear();
  SaveLocal();
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(config.data_dir) / "clusters" / cluster_id, ec);
  if (auto dir = storage.ClusterDir(cluster_id); !dir) {
    Log(LogLevel::kError, "dcm", "cannot create the cluster's folders",
        {{"error", dir.error().message()}});
  }
  Audit("node_definition_cleaned_up",
        {{"node", std::to_string(config.node_id)}, {"previous_uid", facts.local}, {"reason", why}});
  Log(LogLevel::kWarn, "dcm", "local node definition cleaned up", {{"reason", why}});
}

namespace {

// "node 2 (up at 127.0.0.1:7102)": what this node knows of another.
std::string Describe(const node::Node& n, NodeId id) {
  std::string text = "node " + std::to_string(id);
  const auto* member = n.membership().map().Find(id);
  const auto* entry = n.transport().table().Find(id);
  std::string where;
  if (entry != nullptr && !entry->addresses.empty()) {
    where = " at " + entry->addresses.front().address.ToString();
  }
  if (member != nullptr) {
    return text + " (" + membership::MemberStateName(member->state) + where + ")";
  }
  return text + (where.empty() ? "" : " (" + where.substr(1) + ")");
}

}  // namespace

void Dcm::Impl::Refuse(IdentityAction action, const IdentityFacts& facts) {
  identity = IdentityState::kRefused;
  std::string refusal;  // one line naming both nodes and the fix
  const std::string self = "node " + std::to_string(config.node_id);
  if (action == IdentityAction::kRefuseClone) {
    refusal = self + " refused: its unique id " + original_uid + " (" + config.uid_file +
              ") is already " + Describe(*node, *facts.claimed_by) +
              "'s, a cloned machine image? Give this machine its own id (rm /etc/machine-id && "
              "systemd-machine-id-setup, or a new node.uid_file) and start it again";
  } else if (action == IdentityAction::kRefuseUndefined) {
    refusal = self + " is no longer defined to cluster " + config.cluster_name +
              " (undefined while it was away): it waits to be defined again";
    if (cluster_id == local.current) {
      local.current.clear();
      local.target.clear();
    } else {  // the target of a move: the node goes back where it came from
      local.target = local.current;
    }
    SaveLocal();
  } else {
    refusal = self + " refused: node number " + std::to_string(config.node_id) +
              " is defined to another machine (uid " + *facts.global + ", this one is " +
              original_uid + "); if this machine replaces it, run `cohort node undefine " +
              std::to_string(config.node_id) +
              "` on a member first, else give this node another number";
  }
  Audit("node_refused", {{"node", std::to_string(config.node_id)},
                         {"uid", original_uid},
                         {"reason", IdentityActionName(action)}});
  Log(LogLevel::kError, "dcm", refusal);
  if (on_refused) on_refused(refusal, action == IdentityAction::kRefuseUndefined);
}

}  // namespace cohort::dcm
