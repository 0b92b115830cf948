#include "dcm/clusters.h"

#include <algorithm>
#include <filesystem>

#include "base/log.h"
#include "dcm/stored_parent.h"
#include "io/files.h"
#include "wire/seal.h"

namespace cohort::dcm {
namespace {

std::string ConfigDir(const std::string& data_dir, const std::string& cluster_id) {
  return data_dir + "/clusters/" + cluster_id + "/config";
}

const ClusterDefinition* FindId(const LocalConfiguration& local, const std::string& id) {
  for (const auto& c : local.clusters) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

Config FromDefinition(const Config& file, const DefineMessage& m, const std::string& dir) {
  Config c = file;
  c.has_cluster = true;
  c.defined_at_run_time = true;
  c.cluster_id = m.cluster_id;
  c.node_id = m.number;
  c.node_name = m.name.empty() ? "n" + std::to_string(m.number) : m.name;
  c.cluster_name = m.cluster_name;
  c.key_file = dir + "/cluster.key";
  c.priority = m.priority;
  c.seeds = m.seeds;
  c.registry_endpoints = m.registry_servers;
  c.registry_servers.clear();
  for (const auto& s : m.registry_servers) c.registry_servers.push_back(s.id);
  c.registry_heartbeat_ms = m.registry_heartbeat_ms;
  c.registry_election_ms = m.registry_election_ms;
  return c;
}

}  // namespace

std::string NewClusterId() { return wire::RandomHex(8); }

MoveStep DecideMove(bool online, Duration elapsed, Duration deadline) {
  if (online) return MoveStep::kSettle;
  return elapsed >= deadline ? MoveStep::kRevert : MoveStep::kWait;
}

Status WriteClusterDefinition(const LocalStorage& storage, const std::string& data_dir,
                              const DefineMessage& m) {
  if (!ValidClusterId(m.cluster_id)) return Error(Errc::kInvalidArgument, "bad cluster id");
  if (auto key = wire::KeyFromText(m.key); !key) return key.error();
  std::error_code ec;
  std::filesystem::remove_all(data_dir + "/clusters/" + m.cluster_id, ec);
  auto dir = storage.ClusterDir(m.cluster_id);
  if (!dir) return dir.error();
  const std::string config_dir = ConfigDir(data_dir, m.cluster_id);
  COHORT_TRY(io::WriteFileAtomic(config_dir + "/cluster.key", m.key + "\n", 0600));
  DefineMessage stored = m;
  stored.key.clear();  // kept in cluster.key alone
  return io::WriteFileAtomic(config_dir + "/cluster.json", DefineMessageText(stored) + "\n");
}

Result<std::optional<Config>> ClusterConfig(const Config& file, const LocalConfiguration& local,
                                            const std::string& id) {
  if (!ValidClusterId(id)) return std::optional<Config>();
  const std::string dir = ConfigDir(file.data_dir, id);
  if (auto text = io::ReadFile(dir + "/cluster.json")) {
    auto m = ParseDefineMessage(*text);
    if (!m) return Error(Errc::kInvalidArgument, dir + "/cluster.json: " + m.error().message());
    if (m->cluster_id != id) {
      return Error(Errc::kInvalidArgument,
                   dir + "/cluster.json: defines cluster " + m->cluster_id + ", not " + id);
    }
    return std::optional<Config>(FromDefinition(file, *m, dir));
  }
  const ClusterDefinition* known = FindId(local, id);
  if (file.has_cluster && known != nullptr && known->name == file.cluster_name) {
    Config c = file;
    c.cluster_id = id;
    return std::optional<Config>(std::move(c));
  }
  return std::optional<Config>();
}

Result<StartPlan> PlanStart(const Config& file) {
  auto storage = LocalStorage::Open(file.data_dir);
  if (!storage) return storage.error();
  auto local = storage->Load();
  if (!local) return local.error();
  StartPlan plan;
  if (local->offline) return plan;  // `cluster offline`: waits until `cluster online`
  if (!local->target.empty() && local->target != local->current) {
    auto target = ClusterConfig(file, *local, local->target);
    if (!target) {
      Log(LogLevel::kWarn, "dcm", "the move's target cannot be run: the move is off",
          {{"error", target.error().message()}});
    } else if (*target && !local->current.empty()) {
      plan.kind = StartPlan::Kind::kMove;
      plan.config = std::move(**target);
      COHORT_TRY(ApplyStoredParent(plan.config));
      if (local->move_deadline_ms > 0) plan.deadline = Duration::Millis(local->move_deadline_ms);
      return plan;
    }
    // A target this node no longer keeps: the move is off.
    local->target = local->current;
    COHORT_TRY(storage->Save(*local));
  }
  if (!local->current.empty()) {
    auto current = ClusterConfig(file, *local, local->current);
    if (!current) return current.error();
    if (*current) {
      plan.kind = StartPlan::Kind::kRun;
      plan.config = std::move(**current);
      COHORT_TRY(ApplyStoredParent(plan.config));
      return plan;
    }
  }
  if (file.has_cluster) {
    plan.kind = StartPlan::Kind::kRun;
    plan.config = file;
    COHORT_TRY(ApplyStoredParent(plan.config));
  }
  return plan;
}

Status CallOffMove(const Config& file, const std::string& why) {
  auto storage = LocalStorage::Open(file.data_dir);
  if (!storage) return storage.error();
  auto local = storage->Load();
  if (!local) return local.error();
  const std::string target = local->target;
  local->target = local->current;
  COHORT_TRY(storage->Save(*local));
  (void)storage->Audit("cluster_move_reverted", {{"id", target}, {"reason", why}});
  Log(LogLevel::kWarn, "dcm", "the move is called off", {{"target", target}, {"reason", why}});
  return OkStatus();
}

Result<ClusterDefinition> LocalClusters::Find(const std::string& name) const {
  std::string known;
  for (const auto& c : local_.clusters) {
    if (c.name == name || c.id == name) return c;
    known += (known.empty() ? "" : ", ") + c.name;
  }
  return Error(Errc::kNotFound, "this node is not defined to a cluster named '" + name + "' (" +
                                    (known.empty() ? "it is defined to none" : "it has " + known) +
                                    ")");
}

Status LocalClusters::Runnable(const ClusterDefinition& c) const {
  auto runs = ClusterConfig(config_, local_, c.id);
  if (!runs) return runs.error();
  if (!*runs) {
    return Error(Errc::kAlreadyExists,
                 "cluster " + c.name + " was its config file's [cluster], which is gone");
  }
  return OkStatus();
}

Status LocalClusters::Save(const std::string& event,
                           const std::map<std::string, std::string>& fields) {
  COHORT_TRY(storage_.Save(local_));
  auto with = fields;
  if (!by_.empty()) with["by"] = by_;
  (void)storage_.Audit(event, with);
  return OkStatus();
}

Result<ClusterChange> LocalClusters::Define(const ClusterSpec& spec) {
  if (!ValidClusterName(spec.name)) {
    return Error(Errc::kInvalidArgument,
                 "a cluster name is 1 to 64 letters, digits, '.', '_' or '-'");
  }
  if (Find(spec.name)) {
    return Error(Errc::kAlreadyExists, "this node is already defined to a cluster named '" +
                                           spec.name + "': undefine it first, or pick a name");
  }
  if (spec.number == kNoNode) return Error(Errc::kInvalidArgument, "no node number");
  if (config_.adapters.empty()) {
    return Error(Errc::kInvalidArgument, "this node has no transport adapter to be reached at");
  }
  DefineMessage m{DefineOp::kCommit};
  m.request = wire::RandomHex(8);
  m.cluster_id = NewClusterId();
  m.cluster_name = spec.name;
  m.number = spec.number;
  m.name = config_.node_name.empty() ? "n" + std::to_string(spec.number) : config_.node_name;
  m.uid = uid_;
  m.key = wire::KeyToText(wire::GenerateKey());
  m.priority = {spec.number};
  for (const auto& adapter : config_.adapters) m.seeds.push_back(adapter.listen);
  const uint32_t host = config_.adapters.front().listen.ip;
  m.registry_servers = {{spec.number, spec.registry_client.value_or(Endpoint{host, 2379}),
                         spec.registry_peer.value_or(Endpoint{host, 2380})}};
  m.registry_heartbeat_ms = config_.registry_heartbeat_ms;
  m.registry_election_ms = config_.registry_election_ms;
  COHORT_TRY(WriteClusterDefinition(storage_, config_.data_dir, m));
  local_.clusters.push_back({m.cluster_name, m.cluster_id, m.number, uid_, true});
  COHORT_TRY(Save(
      "cluster_defined_here",
      {{"cluster", m.cluster_name}, {"id", m.cluster_id}, {"node", std::to_string(m.number)}}));
  Log(LogLevel::kInfo, "dcm", "cluster defined",
      {{"cluster", m.cluster_name}, {"id", m.cluster_id}});
  return ClusterChange{"cluster " + m.cluster_name + " defined (id " + m.cluster_id +
                           "), this node number " + std::to_string(m.number) +
                           " and its registry server; `cohort cluster online " + m.cluster_name +
                           "` starts it",
                       false, m.cluster_id};
}

Result<ClusterChange> LocalClusters::Undefine(const std::string& name) {
  auto c = Find(name);
  if (!c) return c.error();
  const bool moving = local_.target != local_.current;
  if (c->id == running_ || (moving && (c->id == local_.target || c->id == local_.current))) {
    return Error(Errc::kAlreadyExists, "this node runs in cluster " + c->name +
                                           ": `cohort cluster offline " + c->name + "` first");
  }
  if (!io::ReadFile(ConfigDir(config_.data_dir, c->id) + "/cluster.json")) {
    return Error(Errc::kAlreadyExists,
                 "cluster " + c->name + " is this node's config file's [cluster]: remove it there");
  }
  std::erase_if(local_.clusters, [&](const ClusterDefinition& d) { return d.id == c->id; });
  if (local_.current == c->id) {  // offline in it
    local_.current.clear();
    local_.offline = false;
  }
  if (local_.target == c->id) local_.target = local_.current;
  COHORT_TRY(Save("cluster_undefined_here", {{"cluster", c->name}, {"id", c->id}}));
  std::error_code ec;
  std::filesystem::remove_all(config_.data_dir + "/clusters/" + c->id, ec);
  return ClusterChange{"cluster " + c->name +
                           " undefined on this node; its members still list it " + "as node " +
                           std::to_string(c->node) + " (`cohort node undefine " +
                           std::to_string(c->node) + "` on one of them)",
                       false, c->id};
}

Result<ClusterChange> LocalClusters::Online(const std::string& name) {
  auto c = Find(name);
  if (!c) return c.error();
  if (c->id == running_)
    return ClusterChange{"this node is online in cluster " + c->name, false, c->id};
  if (!running_.empty()) {
    return Error(
        Errc::kAlreadyExists,
        "this node is online in another cluster: `cohort cluster move " + c->name + "` moves it");
  }
  COHORT_TRY(Runnable(*c));
  local_.current = local_.target = c->id;
  local_.offline = false;
  COHORT_TRY(Save("cluster_online", {{"cluster", c->name}, {"id", c->id}}));
  return ClusterChange{"node " + std::to_string(c->node) + " starts in cluster " + c->name, true,
                       c->id};
}

Result<ClusterChange> LocalClusters::Offline(const std::string& name) {
  auto c = Find(name);
  if (!c) return c.error();
  if (c->id != running_) {
    return Error(Errc::kAlreadyExists, "this node is not online in cluster " + c->name);
  }
  local_.offline = true;
  local_.target = local_.current;
  COHORT_TRY(Save("cluster_offline", {{"cluster", c->name}, {"id", c->id}}));
  return ClusterChange{"node " + std::to_string(c->node) + " leaves cluster " + c->name +
                           " and waits; `cohort cluster online " + c->name + "` brings it back",
                       true, c->id};
}

Result<ClusterChange> LocalClusters::Move(const std::string& name, int64_t deadline_ms) {
  auto c = Find(name);
  if (!c) return c.error();
  if (running_.empty()) {
    return Error(Errc::kAlreadyExists,
                 "this node is online in no cluster: `cohort cluster online " + c->name + "`");
  }
  if (c->id == running_)
    return ClusterChange{"this node is online in cluster " + c->name, false, c->id};
  if (registry_server_) {
    return Error(Errc::kAlreadyExists,
                 "this node runs a registry server of its cluster, which would lose it: "
                 "`cohort registry server undefine` it first");
  }
  if (deadline_ms < 100 || deadline_ms > 600'000) {
    return Error(Errc::kInvalidArgument, "the move's deadline is 100 to 600000 ms");
  }
  COHORT_TRY(Runnable(*c));
  local_.target = c->id;
  local_.move_deadline_ms = deadline_ms;
  COHORT_TRY(Save("cluster_move", {{"cluster", c->name},
                                   {"id", c->id},
                                   {"from", running_},
                                   {"deadline_ms", std::to_string(deadline_ms)}}));
  return ClusterChange{"node moves to cluster " + c->name + " as node " + std::to_string(c->node) +
                           " (back here if not online there within " + std::to_string(deadline_ms) +
                           " ms)",
                       true, c->id};
}

}  // namespace cohort::dcm
