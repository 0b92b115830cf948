#include "dcm/standby.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "base/log.h"
#include "dcm/identity.h"
#include "io/clock.h"
#include "io/files.h"

namespace cohort::dcm {
namespace {

std::string ConfigDir(const std::string& data_dir, const std::string& cluster_id) {
  return data_dir + "/clusters/" + cluster_id + "/config";
}

// A cluster id names folders: hex digits only, as NewClusterId makes them.
bool ValidClusterId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

Result<std::string> ReadUid(const Config& config) {
  auto text = io::ReadFile(config.uid_file);
  if (!text) {
    return Error(Errc::kInvalidArgument, "cannot read this machine's unique id from " +
                                             config.uid_file + " (" + text.error().message() +
                                             "); set node.uid_file to a file holding one");
  }
  return ParseUid(*text, config.uid_file);
}

Result<Standby> Standby::Open(const Config& config) {
  auto uid = ReadUid(config);
  if (!uid) return uid.error();
  auto storage = LocalStorage::Open(config.data_dir);
  if (!storage) return storage.error();
  auto local = storage->Load();
  if (!local) return local.error();
  return Standby(config, std::move(*storage), std::move(*uid), std::move(*local));
}

std::string Standby::TokenPath() const { return config_.data_dir + "/dcm/join.token"; }

Result<std::string> Standby::NewToken() {
  const std::string token = NewJoinToken();
  COHORT_TRY(io::WriteFileAtomic(TokenPath(), token + "\n", 0600));
  (void)storage_.Audit("join_token_made", {});
  return token;
}

Result<wire::Key> Standby::TokenKey() const {
  if (committed_key_) return *committed_key_;
  auto text = io::ReadFile(TokenPath());
  if (!text || text->size() < 64) {
    return Error(Errc::kPermission,
                 "this node has no join token: run `cohort join-token` on it and pass the token "
                 "to `cohort node define`");
  }
  return JoinKey(text->substr(0, 64));
}

DefineAnswer Standby::Answer(const DefineMessage& m) {
  DefineAnswer a;
  a.request = m.request;
  a.uid = uid_;
  Status done = OkStatus();
  if (m.op == DefineOp::kHello) {
    for (const auto& c : local_.clusters) {
      if (c.id == m.cluster_id && !c.uid.empty()) {
        a.kept_number = c.node;
        a.kept_uid = c.uid;
      }
    }
  } else if (m.op == DefineOp::kCommit) {
    done = Commit(m);
  } else {
    done = Abort(m);
  }
  a.ok = static_cast<bool>(done);
  if (!done) a.error = done.error().message();
  (void)storage_.Audit(std::string("define_") + DefineOpName(m.op),
                       {{"cluster", m.cluster_name},
                        {"id", m.cluster_id},
                        {"node", std::to_string(m.number)},
                        {"outcome", a.ok ? "ok" : a.error}});
  return a;
}

Status Standby::Commit(const DefineMessage& m) {
  if (defined_) {
    return m.request == committed_request_
               ? OkStatus()  // the same commit again (its answer was lost)
               : Error(Errc::kAlreadyExists, "this node was just defined by another request");
  }
  if (!ValidClusterId(m.cluster_id)) return Error(Errc::kInvalidArgument, "bad cluster id");
  if (m.number == kNoNode) return Error(Errc::kInvalidArgument, "no node number");
  if (m.uid != uid_) {
    return Error(Errc::kInvalidArgument,
                 "the definition names uid " + m.uid + ", this machine is " + uid_);
  }
  if (auto key = wire::KeyFromText(m.key); !key) return key.error();
  // An older definition of this cluster goes first (step 11: "erase any previous").
  std::error_code ec;
  std::filesystem::remove_all(config_.data_dir + "/clusters/" + m.cluster_id, ec);
  auto dir = storage_.ClusterDir(m.cluster_id);
  if (!dir) return dir.error();
  const std::string config_dir = ConfigDir(config_.data_dir, m.cluster_id);
  COHORT_TRY(io::WriteFileAtomic(config_dir + "/cluster.key", m.key + "\n", 0600));
  DefineMessage stored = m;
  stored.key.clear();  // kept in cluster.key alone
  COHORT_TRY(io::WriteFileAtomic(config_dir + "/cluster.json", DefineMessageText(stored) + "\n"));
  std::erase_if(local_.clusters, [&](const ClusterDefinition& c) { return c.id == m.cluster_id; });
  local_.clusters.push_back({m.cluster_name, m.cluster_id, m.number, uid_});
  local_.current = local_.target = m.cluster_id;
  local_.registry_servers = m.registry_servers;
  COHORT_TRY(storage_.Save(local_));
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

Status Standby::Abort(const DefineMessage& m) {
  const bool ours = std::any_of(local_.clusters.begin(), local_.clusters.end(), [&](const auto& c) {
    return c.id == m.cluster_id && c.node == m.number;
  });
  if (!ours || !ValidClusterId(m.cluster_id) || m.request != committed_request_) {
    return OkStatus();  // nothing this request committed
  }
  std::erase_if(local_.clusters, [&](const ClusterDefinition& c) { return c.id == m.cluster_id; });
  if (local_.current == m.cluster_id) local_.current.clear();
  if (local_.target == m.cluster_id) local_.target.clear();
  COHORT_TRY(storage_.Save(local_));
  std::error_code ec;
  std::filesystem::remove_all(config_.data_dir + "/clusters/" + m.cluster_id, ec);
  defined_ = false;
  committed_request_.clear();
  committed_key_.reset();  // the token was used up: a new attempt needs a new one
  Log(LogLevel::kInfo, "dcm", "definition rolled back", {{"id", m.cluster_id}});
  return OkStatus();
}

Result<std::optional<Config>> DefinedConfig(const Config& file) {
  auto storage = LocalStorage::Open(file.data_dir);
  if (!storage) return storage.error();
  auto local = storage->Load();
  if (!local) return local.error();
  if (local->current.empty() || !ValidClusterId(local->current)) return std::optional<Config>();
  const std::string dir = ConfigDir(file.data_dir, local->current);
  auto text = io::ReadFile(dir + "/cluster.json");
  if (!text) return std::optional<Config>();  // a cluster of a config file's, not ours
  auto m = ParseDefineMessage(*text);
  if (!m) return Error(Errc::kInvalidArgument, dir + "/cluster.json: " + m.error().message());
  Config c = file;
  c.has_cluster = true;
  c.defined_at_run_time = true;
  c.node_id = m->number;
  c.node_name = m->name.empty() ? "n" + std::to_string(m->number) : m->name;
  c.cluster_name = m->cluster_name;
  c.key_file = dir + "/cluster.key";
  c.priority = m->priority;
  c.seeds = m->seeds;
  c.registry_endpoints = m->registry_servers;
  c.registry_servers.clear();
  for (const auto& s : m->registry_servers) c.registry_servers.push_back(s.id);
  c.registry_heartbeat_ms = m->registry_heartbeat_ms;
  c.registry_election_ms = m->registry_election_ms;
  return std::optional<Config>(std::move(c));
}

}  // namespace cohort::dcm
