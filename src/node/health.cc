#include "node/health.h"

#include <algorithm>
#include <set>

namespace cohort::node::health {
namespace {

using membership::MemberState;

std::string NodeName(NodeId id) { return "node " + std::to_string(id); }

std::string NodeList(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
  return out;
}

std::vector<NodeId> Sorted(std::vector<NodeId> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

class Findings {
 public:
  explicit Findings(Report& r) : r_(r) {}
  Problem& Add(Verdict severity, Area area, std::string key, std::string what, std::string where,
               std::string action, Duration grace = Duration()) {
    Problem p;
    p.severity = severity;
    p.area = area;
    p.key = std::move(key);
    p.what = std::move(what);
    p.where = std::move(where);
    p.action = std::move(action);
    p.grace = grace;
    return r_.problems.emplace_back(std::move(p));
  }

 private:
  Report& r_;
};

bool InCluster(membership::Role role) {
  return role == membership::Role::kMember || role == membership::Role::kSupervisor;
}

void JudgeMembers(const Inputs& in, Report& r, Findings& f) {
  size_t failed = 0;
  for (const auto& [id, m] : in.map.members) {
    if (m.state == MemberState::kLeft) continue;
    ++r.members_total;
    if (m.state == MemberState::kUp) ++r.members_up;
    if (m.state == MemberState::kFailed) {
      ++failed;
      f.Add(Verdict::kDegraded, Area::kMembers, "member-failed/" + std::to_string(id),
            "node " + std::to_string(id) + " failed", NodeName(id),
            "check the host and its cohortd (`systemctl status cohortd` there); it rejoins by "
            "itself once it runs; if it is gone for good: `cohort node undefine " +
                std::to_string(id) + "`")
          .member = id;
    }
  }
  // More than half the listed nodes lost: whatever needs a majority (the registry) stops.
  if (r.members_total > 1 && failed * 2 > r.members_total) {
    f.Add(Verdict::kDown, Area::kMembers, "members-majority",
          std::to_string(failed) + " of " + std::to_string(r.members_total) +
              " nodes failed: no majority of the cluster is up",
          "cluster", "bring the failed nodes back first; `cohort members` lists them");
  }
}

void JudgeRegistry(const Inputs& in, Report& r, Findings& f) {
  if (!in.registry_configured) return;
  const std::string error = in.registry_error.empty() ? "" : " (" + in.registry_error + ")";
  if (!in.registry) {
    f.Add(in.starting ? Verdict::kDegraded : Verdict::kDown, Area::kRegistry, "registry-unknown",
          "this node has no answer from the System Registry" +
              std::string(in.starting ? " yet" : "") + error,
          NodeName(in.self),
          "check the registry servers in [registry] of cohortd.toml and that they are up "
          "(`cohort registry status` on one of them)",
          in.starting ? Duration() : Duration::Seconds(10));
    return;
  }
  const registry::RegistryStatus& s = *in.registry;
  // A status read that failed lists no servers: judge the configured ones.
  const std::vector<NodeId> servers = Sorted(s.servers.empty() ? in.registry_servers : s.servers);
  std::vector<NodeId> down;
  for (NodeId id : servers) {
    const membership::Member* m = in.map.Find(id);
    if (m != nullptr && m->state == MemberState::kUp) {
      ++r.registry_servers_up;
    } else {
      down.push_back(id);
    }
  }
  const size_t majority = servers.size() / 2 + 1;
  if (s.phase != registry::Phase::kReadWrite || s.leader == kNoNode) {
    f.Add(Verdict::kDown, Area::kRegistry, "registry-no-leader",
          "the System Registry has no leader: it refuses writes (" +
              std::to_string(r.registry_servers_up) + " of " + std::to_string(servers.size()) +
              " servers up, " + std::to_string(majority) + " needed)" + error,
          "registry servers " + NodeList(servers),
          "bring registry servers back until a majority runs; `cohort registry status` shows "
          "the phase",
          Duration::Seconds(5));
  }
  if (!down.empty()) {
    const bool one_more = r.registry_servers_up == majority;
    f.Add(Verdict::kDegraded, Area::kRegistry, "registry-servers-down/" + NodeList(down),
          std::to_string(down.size()) + " of " + std::to_string(servers.size()) +
              " registry servers down" + (one_more ? ": one more loss stops all writes" : ""),
          "registry servers " + NodeList(down),
          "bring them back, or move the role to up nodes with `cohort registry server "
          "offline ID` and `online ID`");
  }
}

void JudgeDisks(const Inputs& in, Findings& f) {
  for (const auto& [id, disk] : in.map.disks) {
    const membership::DiskState state = in.map.StateOf(disk);
    if (state == membership::DiskState::kFailed) {
      f.Add(Verdict::kDegraded, Area::kDisks, "disk-failed/" + id, "disk " + id + " failed",
            "disk " + id,
            "check the device and its mount on the nodes with access (`cohort tables`); "
            "it is taken back once a node reports a working path");
      continue;
    }
    if (state != membership::DiskState::kDegraded) continue;
    for (const auto& [node, path] : disk.paths) {
      if (path.state != membership::PathState::kFailed || !in.map.IsUp(node)) continue;
      f.Add(Verdict::kDegraded, Area::kDisks, "disk-path/" + id + "/" + std::to_string(node),
            "node " + std::to_string(node) + " cannot reach disk " + id,
            "disk " + id + " from " + NodeName(node),
            "check that node's cable, controller or mount of the disk (`cohort tables` shows "
            "every node's path)");
    }
  }
}

void JudgeNetworks(const Inputs& in, Findings& f) {
  for (const liveness::NetworkView& v : in.networks) {
    auto node_up = [&](size_t i) { return in.map.IsUp(v.adapters[i].node); };
    for (size_t i = 0; i < v.adapters.size() && i < v.states.size(); ++i) {
      if (v.states[i] != liveness::AdapterState::kDown || !node_up(i)) continue;
      const std::string address = v.adapters[i].address.ToString();
      f.Add(Verdict::kDegraded, Area::kNetworks, "adapter-down/" + v.name + "/" + address,
            "adapter " + address + " of node " + std::to_string(v.adapters[i].node) +
                " is heard by no one on network " + v.name,
            "network " + v.name + ": " + address,
            "check its link, cable and switch port; traffic uses the node's other networks",
            Duration::Seconds(2));
    }
    for (size_t i = 0; i < v.paths.size() && i < v.adapters.size(); ++i) {
      for (size_t j = 0; j < v.paths[i].size() && j < v.adapters.size(); ++j) {
        if (v.paths[i][j] != liveness::PathState::kDown || !node_up(i) || !node_up(j)) continue;
        // A dead adapter's paths are its own problem, above.
        if ((i < v.states.size() && v.states[i] == liveness::AdapterState::kDown) ||
            (j < v.states.size() && v.states[j] == liveness::AdapterState::kDown)) {
          continue;
        }
        const std::string a = v.adapters[i].address.ToString();
        const std::string b = v.adapters[j].address.ToString();
        f.Add(Verdict::kDegraded, Area::kNetworks, "path-down/" + v.name + "/" + a + "/" + b,
              "heartbeats from " + a + " do not reach " + b + " (node " +
                  std::to_string(v.adapters[i].node) + " to node " +
                  std::to_string(v.adapters[j].node) + ")",
              "network " + v.name + ": " + a + " → " + b,
              "a one-way loss is usually a filter or a half-broken link; `cohort liveness` "
              "shows the whole matrix",
              Duration::Seconds(2));
      }
    }
  }
}

void JudgeJobs(const Inputs& in, Findings& f) {
  for (const JobBrief& j : in.jobs) {
    if (j.cancelled) continue;  // an operator's decision, not a fault
    if (j.state == distribution::JobState::kFailed && j.final) {
      f.Add(Verdict::kDegraded, Area::kJobs, "job-failed/" + j.id,
            "distribution job " + j.id + " failed" + (j.error.empty() ? "" : ": " + j.error),
            j.failed_servers.empty() ? "job " + j.id
                                     : "job " + j.id + " on nodes " + NodeList(j.failed_servers),
            "`cohort job show " + j.id +
                "` names each server's error; fix it and distribute "
                "again");
    } else if (j.state == distribution::JobState::kRunning && j.behind) {
      // Keyed by its progress: a byte moved starts the problem's time again, so it shows
      // only once the job stood still for its grace. A job whose servers all hold what
      // it has so far (an open job, an upload waiting for its client) waits, not stalls.
      f.Add(Verdict::kDegraded, Area::kJobs, "job-stalled/" + j.id + "/" + std::to_string(j.bytes),
            "distribution job " + j.id + " moved no byte for 30 s or more", "job " + j.id,
            "`cohort job show " + j.id +
                "` shows which servers wait; a server whose disk is "
                "full or whose sources all failed stops the job",
            Duration::Seconds(30));
    }
  }
}

void JudgeResources(const Inputs& in, Findings& f) {
  if (!in.resources_synced) return;
  for (const ResourceBrief& res : in.resources) {
    if (res.blocked_on != kNoNode) {
      f.Add(Verdict::kDegraded, Area::kResources, "resource-blocked/" + res.name,
            "resource " + res.name + " is blocked: its stop failed, it may still run there" +
                (res.error.empty() ? "" : " (" + res.error + ")"),
            NodeName(res.blocked_on),
            "stop it by hand on that node, then `cohort resource clear " + res.name + "`");
    } else if (res.should_run && !res.running) {
      f.Add(Verdict::kDegraded, Area::kResources, "resource-not-running/" + res.name,
            "resource " + res.name + " should run but runs nowhere" +
                (res.error.empty() ? "" : " (" + res.error + ")"),
            "resource " + res.name,
            "`cohort resource explain " + res.name + "` says why" +
                (res.placed_reason.empty() ? "" : " (" + res.placed_reason + ")"),
            Duration::Seconds(15));
    }
  }
}

}  // namespace

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kHealthy:
      return "healthy";
    case Verdict::kDegraded:
      return "degraded";
    case Verdict::kDown:
      return "down";
  }
  return "down";
}

const char* AreaName(Area a) {
  static constexpr const char* kNames[kAreaCount] = {
      "node", "members", "supervisor", "registry", "disks", "networks", "jobs", "resources"};
  return kNames[static_cast<int>(a)];
}

Report Evaluate(const Inputs& in) {
  Report r;
  r.supervisor = in.map.supervisor;
  r.registry = in.registry;
  Findings f(r);
  if (!InCluster(in.role)) {
    // From outside a cluster, nothing else this node holds is current.
    const std::string role = membership::RoleName(in.role);
    if (in.starting) {
      f.Add(Verdict::kDegraded, Area::kNode, "node-outside",
            "this node is still on its way into its cluster (" + role + ")", NodeName(in.self),
            "wait a few seconds; if it lasts, check that its seeds reach a running node");
    } else {
      f.Add(Verdict::kDown, Area::kNode, "node-outside",
            "this node is not in a cluster (" + role + ")", NodeName(in.self),
            "check that its seeds reach a running node and share its key (`cohort addresses`, "
            "`cohort ping`); its log says what it waits for",
            Duration::Seconds(5));
    }
    r.verdict = r.problems.front().severity;
    return r;
  }
  if (in.map.supervisor == kNoNode) {
    f.Add(Verdict::kDown, Area::kSupervisor, "no-supervisor", "the cluster has no supervisor",
          "cluster", "wait a second for the election; if it lasts, see the nodes' logs",
          Duration::Seconds(3));
  }
  JudgeMembers(in, r, f);
  JudgeRegistry(in, r, f);
  JudgeDisks(in, f);
  JudgeNetworks(in, f);
  JudgeJobs(in, f);
  JudgeResources(in, f);
  for (const Problem& p : r.problems) r.verdict = std::max(r.verdict, p.severity);
  return r;
}

void HealthWatch::ObserveMap(const membership::ClusterMap& map, int64_t now_ms) {
  auto record = [&](NodeId id, std::optional<MemberState> from, std::optional<MemberState> to) {
    history_.push_back({now_ms, id, from, to});
    if (history_.size() > kHistoryLimit) history_.pop_front();
  };
  for (const auto& [id, m] : map.members) {
    auto it = states_.find(id);
    if (it != states_.end() && it->second == m.state) continue;
    record(id, it == states_.end() ? std::nullopt : std::optional(it->second), m.state);
    states_[id] = m.state;
    state_since_[id] = now_ms;
  }
  for (auto it = states_.begin(); it != states_.end();) {
    if (map.members.count(it->first) != 0) {
      ++it;
      continue;
    }
    record(it->first, it->second, std::nullopt);
    state_since_.erase(it->first);
    it = states_.erase(it);
  }
}

int64_t HealthWatch::StateSince(NodeId node) const {
  auto it = state_since_.find(node);
  return it == state_since_.end() ? 0 : it->second;
}

void HealthWatch::Stamp(Report& report, int64_t now_ms) {
  std::map<std::string, int64_t> seen;
  std::vector<Problem> kept;
  for (Problem& p : report.problems) {
    auto first = first_seen_.find(p.key);
    const int64_t since = first == first_seen_.end() ? now_ms : first->second;
    seen[p.key] = since;
    p.since_ms = since;
    if (p.member != kNoNode && StateSince(p.member) != 0) p.since_ms = StateSince(p.member);
    if (now_ms - p.since_ms >= p.grace.millis()) kept.push_back(std::move(p));
  }
  first_seen_ = std::move(seen);
  std::stable_sort(kept.begin(), kept.end(), [](const Problem& a, const Problem& b) {
    return a.severity != b.severity ? a.severity > b.severity : a.area < b.area;
  });
  report.problems = std::move(kept);
  report.verdict = Verdict::kHealthy;
  for (const Problem& p : report.problems) report.verdict = std::max(report.verdict, p.severity);
}

}  // namespace cohort::node::health
