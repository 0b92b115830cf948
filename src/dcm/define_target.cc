#include "dcm/define_target.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/log.h"
#include "dcm/clusters.h"
#include "dcm/identity.h"
#include "io/clock.h"
#include "io/files.h"

namespace cohort::dcm {

Result<std::string> ReadUid(const Config& config) {
  auto text = io::ReadFile(config.uid_file);
  if (!text) {
    return Error(Errc::kInvalidArgument, "cannot read this machine's unique id from " +
                                             config.uid_file + " (" + text.error().message() +
                                             "); set node.uid_file to a file holding one");
  }
  return ParseUid(*text, config.uid_file);
}

Result<DefineTarget> DefineTarget::Open(const Config& config) {
  auto uid = ReadUid(config);
  if (!uid) return uid.error();
  auto storage = LocalStorage::Open(config.data_dir);
  if (!storage) return storage.error();
  auto local = storage->Load();
  if (!local) return local.error();
  return DefineTarget(config, std::move(*storage), std::move(*uid), std::move(*local));
}

std::string DefineTarget::TokenPath() const { return config_.data_dir + "/dcm/join.token"; }

Result<std::string> DefineTarget::NewToken() {
  const std::string token = NewJoinToken();
  COHORT_TRY(io::WriteFileAtomic(TokenPath(), token + "\n", 0600));
  (void)storage_.Audit("join_token_made", {});
  return token;
}

Result<wire::Key> DefineTarget::TokenKey() const {
  auto text = io::ReadFile(TokenPath());
  if (text && text->size() >= 64) return JoinKey(text->substr(0, 64));
  // Used up by the last commit, whose rollback may still come sealed under it.
  if (committed_key_) return *committed_key_;
  return Error(Errc::kPermission,
               "this node has no join token: run `cohort join-token` on it and pass the token "
               "to `cohort node define`");
}

DefineAnswer DefineTarget::Answer(const DefineMessage& m, const std::string& by) {
  DefineAnswer a;
  a.request = m.request;
  a.uid = uid_;
  Status done = OkStatus();
  if (m.op == DefineOp::kHello) {
    for (const auto& c : local_->clusters) {
      if (c.id == m.cluster_id && !c.uid.empty()) {
        a.kept_number = c.node;
        a.kept_uid = c.uid;
      }
    }
  } else if (m.op == DefineOp::kCommit) {
    done = Commit(m);
  } else if (m.op == DefineOp::kAbort) {
    done = Abort(m);
  } else {
    done = Error(Errc::kInvalidArgument, "not a definition operation");
  }
  a.ok = static_cast<bool>(done);
  if (!done) a.error = done.error().message();
  (void)storage_.Audit(std::string("define_") + DefineOpName(m.op),
                       {{"cluster", m.cluster_name},
                        {"id", m.cluster_id},
                        {"node", std::to_string(m.number)},
                        {"by", by},
                        {"outcome", a.ok ? "ok" : a.error}});
  return a;
}

Status DefineTarget::Commit(const DefineMessage& m) {
  if (defined_ && (waiting_ || m.request == committed_request_)) {
    return m.request == committed_request_
               ? OkStatus()  // the same commit again (its answer was lost)
               : Error(Errc::kAlreadyExists, "this node was just defined by another request");
  }
  if (m.number == kNoNode) return Error(Errc::kInvalidArgument, "no node number");
  if (m.uid != uid_) {
    return Error(Errc::kInvalidArgument,
                 "the definition names uid " + m.uid + ", this machine is " + uid_);
  }
  if (!waiting_ && (m.cluster_id == local_->current || m.cluster_id == config_.cluster_id)) {
    return Error(Errc::kAlreadyExists, "this node runs in cluster " + m.cluster_name + " already");
  }
  // An older definition of this cluster goes first (step 11: "erase any previous").
  COHORT_TRY(WriteClusterDefinition(storage_, config_.data_dir, m));
  std::erase_if(local_->clusters, [&](const ClusterDefinition& c) { return c.id == m.cluster_id; });
  local_->clusters.push_back({m.cluster_name, m.cluster_id, m.number, uid_, false});
  if (waiting_) {
    local_->current = local_->target = m.cluster_id;
    local_->offline = false;
    local_->registry_servers = m.registry_servers;
  }
  COHORT_TRY(storage_.Save(*local_));
  // The token is used up: what was sealed with it cannot define this node again. Its key
  // stays in memory for this request's rollback until the node starts in its cluster.
  auto key = TokenKey();
  if (key) committed_key_ = *key;
  ::unlink(TokenPath().c_str());
  committed_request_ = m.request;
  defined_ = true;
  Log(LogLevel::kInfo, "dcm", "defined to a cluster",
      {{"cluster", m.cluster_name}, {"id", m.cluster_id}, {"node", std::to_string(m.number)}});
  return OkStatus();
}

Status DefineTarget::Abort(const DefineMessage& m) {
  const bool ours =
      std::any_of(local_->clusters.begin(), local_->clusters.end(),
                  [&](const auto& c) { return c.id == m.cluster_id && c.node == m.number; });
  if (!ours || !ValidClusterId(m.cluster_id) || m.request != committed_request_) {
    return OkStatus();  // nothing this request committed
  }
  std::erase_if(local_->clusters, [&](const ClusterDefinition& c) { return c.id == m.cluster_id; });
  if (local_->current == m.cluster_id) local_->current.clear();
  if (local_->target == m.cluster_id) local_->target.clear();
  COHORT_TRY(storage_.Save(*local_));
  std::error_code ec;
  std::filesystem::remove_all(config_.data_dir + "/clusters/" + m.cluster_id, ec);
  defined_ = false;
  committed_request_.clear();
  committed_key_.reset();  // the token was used up: a new attempt needs a new one
  Log(LogLevel::kInfo, "dcm", "definition rolled back", {{"id", m.cluster_id}});
  return OkStatus();
}

}  // namespace cohort::dcm
