// `cohort dev up --shape SxN | GxSxN` (M14): clusters of real daemons nested under parent
// clusters, every cluster in DIR/c<i>/ on the flat port plan of cli.h's DevUpOptions.
#include <sys/wait.h>

#include <cstdio>
#include <set>
#include <thread>

#include "cli/dev_up.h"
#include "io/files.h"
#include "wire/seal.h"

namespace cohort::cli::devup {

using nlohmann::json;

// M14: node k's tables for every level above its cluster: its address there and the
// addresses of the level's seeds (node 1 of the leaf clusters below it).
std::string ParentConfigs(int k, const DevUpOptions& o) {
  std::string out, key = "cluster";
  for (const DevUpOptions::Level& l : o.levels) {
    auto address = [&](int cluster, int node) {
      return "\"127.0.0.1:" +
             std::to_string(l.first_port + l.port_offset + (cluster - 1) * l.per_cluster + node) +
             "\"";
    };
    std::string seeds, priority;
    for (int i = l.seed_first; i <= l.seed_last; ++i) {
      seeds += (i > l.seed_first ? ", " : "") + address(i, 1);
    }
    for (int m = 1; m <= l.members; ++m) priority += (m > 1 ? ", " : "") + std::to_string(m);
    // The leaf cluster this node is in, by flat index: its base port tells.
    const int cluster = (o.base_port - l.first_port) / l.per_cluster + 1;
    key += ".parent";
    // level_factor 5 by default: a level notices a silent node after about 2 s × the
    // factors below it, well after a new supervisor below has taken its node over.
    out += "\n[" + key + "]\nid = " + std::to_string(l.id) +
           "\nlevel_factor = " + std::to_string(o.level_factor) + "\nname = \"" + l.name +
           "\"\nkey_file = \"" + l.key_file + "\"\nlisten = " + address(cluster, k) +
           "\nseeds = [" + seeds + "]\npriority = [" + priority + "]\n";
  }
  return out;
}

namespace {

struct Formed {
  std::string name;
  int supervisor = 0;
};

// One level above the leaves, from the documents of the nodes that hold a node there (their
// /v1/hierarchy at that depth): formed when it has `clusters` clusters, each held by
// `members` nodes that all see every member up in one map version.
std::optional<std::vector<Formed>> LevelFormed(const std::vector<const json*>& held,
                                               size_t clusters, size_t members) {
  std::map<std::string, std::vector<const json*>> by_name;
  for (const json* d : held) by_name[(*d)["name"].get<std::string>()].push_back(d);
  if (by_name.size() != clusters) return std::nullopt;
  std::vector<Formed> formed;
  for (const auto& [name, docs] : by_name) {
    if (docs.size() != members) return std::nullopt;
    std::set<uint64_t> versions;
    int supervisor = 0;
    for (const json* d : docs) {
      const json& map = (*d)["map"];
      size_t up = 0;
      for (const auto& m : map["members"]) up += m["state"] == "up";
      if (up != members) return std::nullopt;
      versions.insert(map["version"].get<uint64_t>());
      supervisor = map["supervisor"].get<int>();
    }
    if (versions.size() != 1) return std::nullopt;
    formed.push_back({name, supervisor});
  }
  return formed;
}

// Every level above the clusters has formed. `groups`: the clusters of the first level
// above (one per group of `per_group` leaf clusters); a second level, when there is one,
// has them all as its members.
Result<std::vector<std::vector<Formed>>> WaitLevels(const Globals& g,
                                                    const std::vector<DevUpOptions>& clusters,
                                                    const std::vector<Agreement>& agreed,
                                                    size_t groups, size_t per_group,
                                                    Clock::time_point deadline) {
  const size_t depth = clusters.front().levels.size();
  for (;;) {
    std::vector<json> docs;
    for (size_t i = 0; i < clusters.size(); ++i) {
      auto h = GetFromNode(clusters[i], agreed[i].supervisor, "/v1/hierarchy");
      if (h) docs.push_back(std::move(*h));
    }
    std::vector<std::vector<Formed>> levels;
    std::vector<const json*> held;
    for (const json& d : docs) held.push_back(&d);
    for (size_t level = 0; level < depth; ++level) {
      std::vector<const json*> here;
      for (const json* d : held) {
        const json& p = (*d)["parent"];
        if (p.is_object() && p.value("held_here", false) && p.contains("map")) here.push_back(&p);
      }
      auto formed =
          level == 0 ? LevelFormed(here, groups, per_group) : LevelFormed(here, 1, groups);
      if (!formed) break;
      levels.push_back(std::move(*formed));
      held = std::move(here);
    }
    if (levels.size() == depth) return levels;
    Waiting(g, "waiting: " + std::to_string(levels.size()) + " of " + std::to_string(depth) +
                   " levels above the clusters formed");
    if (Clock::now() > deadline) {
      return Error(
          Errc::kTimeout,
          "the levels above the clusters did not form in time (logs in c*/n*/cohortd.log)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status MakeKey(const std::string& path) {
  if (io::ReadFile(path)) return OkStatus();
  return io::WriteFileAtomic(path, wire::KeyToText(wire::GenerateKey()) + "\n", 0600);
}

// The shape's leaf clusters with their levels: groups of `s` clusters of `n` nodes, each
// group a parent cluster; with more than one group, the parents under one root.
Result<std::vector<DevUpOptions>> PlanShape(const DevUpOptions& o, const std::string& dir,
                                            int groups, int s, int n) {
  std::vector<DevUpOptions> clusters;
  const std::string root_key = dir + "/parent.key";
  COHORT_TRY(MakeKey(root_key));
  for (int j = 1; j <= groups; ++j) {
    const bool nested = groups > 1;
    const std::string group_key = nested ? dir + "/p" + std::to_string(j) + ".key" : root_key;
    COHORT_TRY(MakeKey(group_key));
    for (int c = 1; c <= s; ++c) {
      const int i = (j - 1) * s + c;  // the flat index
      DevUpOptions x = o;
      x.nodes = n;
      x.dir = dir + "/c" + std::to_string(i);
      x.base_port = o.base_port + (i - 1) * n;
      x.cluster_name = o.cluster_name + "-c" + std::to_string(i);
      x.registry_servers = std::min(o.registry_servers, n);
      const std::string parent_name =
          nested ? o.cluster_name + "-p" + std::to_string(j) : o.cluster_name;
      x.levels.push_back({.id = c,
                          .name = parent_name,
                          .key_file = group_key,
                          .port_offset = 400,
                          .first_port = o.base_port,
                          .per_cluster = n,
                          .seed_first = (j - 1) * s + 1,
                          .seed_last = j * s,
                          .members = s});
      if (nested) {
        x.levels.push_back({.id = j,
                            .name = o.cluster_name,
                            .key_file = root_key,
                            .port_offset = 500,
                            .first_port = o.base_port,
                            .per_cluster = n,
                            .seed_first = 1,
                            .seed_last = groups * s,
                            .members = groups});
      }
      COHORT_TRY(Prepare(x, x.dir));
      clusters.push_back(std::move(x));
    }
  }
  return clusters;
}

}  // namespace

int DevUpShape(const Globals& g, const DevUpOptions& o, const std::string& dir) {
  int a = 0, b = 0, c = 0;
  char tail = 0;
  // SxN exactly, else GxSxN exactly: "3x3junk" or "3x3x" is neither.
  const bool flat = std::sscanf(o.shape.c_str(), "%dx%d%c", &a, &b, &tail) == 2;
  const bool nested = !flat && std::sscanf(o.shape.c_str(), "%dx%dx%d%c", &a, &b, &c, &tail) == 3;
  const int groups = nested ? a : 1;
  const int s = nested ? b : a, n = nested ? c : b;
  if ((!flat && !nested) || (nested && (groups < 2 || groups > 9)) || s < 2 || s > 9 || n < 1 ||
      n > 20 || groups * s * n > 90) {
    return Fail(2, "--shape '" + o.shape +
                       "': expected SxN, S clusters (2-9) of N nodes (1-20), or GxSxN, G parents "
                       "(2-9) of such; at most 90 nodes in all");
  }
  const int last_port = o.base_port + (nested ? 500 : 400) + groups * s * n;
  if (last_port > 65535) {
    return Fail(2, "--base-port " + std::to_string(o.base_port) + " with --shape " + o.shape +
                       ": the levels' ports would reach " + std::to_string(last_port) +
                       " (above 65535)");
  }
  if (auto made = io::MakeDirs(dir); !made) return Fail(1, made.error().message());
  auto planned = PlanShape(o, dir, groups, s, n);
  if (!planned) return Fail(1, planned.error().message());
  const std::vector<DevUpOptions>& clusters = *planned;
  std::vector<std::map<int, pid_t>> pids(clusters.size());
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (auto started = StartNodes(clusters[i], clusters[i].dir, pids[i]); !started) {
      for (size_t j = 0; j < i; ++j) StopStarted(pids[j]);
      return Fail(1, started.error().message());
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_s);
  // On a failure every cluster's daemons are stopped, not only the failing one's.
  auto fail = [&](const std::string& why) {
    for (const auto& started : pids) {
      std::map<int, pid_t> running;  // children not yet reaped: their pids are still theirs
      for (const auto& [k, pid] : started) {
        if (pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0) running[k] = pid;
      }
      StopStarted(running);
    }
    return Fail(1, why);
  };
  std::vector<Agreement> agreed;
  json out_clusters = json::array();
  for (size_t i = 0; i < clusters.size(); ++i) {
    auto agreement = WaitAgreement(g, clusters[i], clusters[i].dir, pids[i], deadline);
    Waiting(g, "");  // the waiting line ends before the outcome
    if (!agreement) {
      return fail("cluster " + std::to_string(i + 1) + ": " + agreement.error().message());
    }
    auto r = WaitRegistry(g, clusters[i], clusters[i].dir, deadline);
    Waiting(g, "");
    if (!r) {
      return fail("cluster " + std::to_string(i + 1) + ": " + r.error().message());
    }
    agreed.push_back(*agreement);
    json doc = DevUpDocument(clusters[i], clusters[i].dir, pids[i], *agreement);
    doc["name"] = clusters[i].cluster_name;
    doc["parent"] = clusters[i].levels[0].name;
    doc["parent_id"] = clusters[i].levels[0].id;
    out_clusters.push_back(std::move(doc));
  }
  auto levels = WaitLevels(g, clusters, agreed, groups, s, deadline);
  Waiting(g, "");
  if (!levels) return fail(levels.error().message());
  json out_levels = json::array();
  for (const auto& level : *levels) {
    json l = json::array();
    for (const Formed& f : level) l.push_back({{"name", f.name}, {"supervisor", f.supervisor}});
    out_levels.push_back(std::move(l));
  }
  const Formed& root = levels->back().front();
  const json out{{"dir", dir},
                 {"shape", o.shape},
                 {"parent", {{"name", root.name}, {"supervisor", root.supervisor}}},
                 {"levels", out_levels},
                 {"clusters", out_clusters}};
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  for (size_t i = 0; i < clusters.size(); ++i) {
    std::printf("cluster %s (node %d of %s):\n", clusters[i].cluster_name.c_str(),
                clusters[i].levels[0].id, clusters[i].levels[0].name.c_str());
    PrintDevUp(out_clusters[i], clusters[i].base_port);
  }
  if (groups > 1) {
    for (const Formed& f : levels->front()) {
      std::printf("parent cluster %s: %d nodes (one per cluster), supervisor node %d\n",
                  f.name.c_str(), s, f.supervisor);
    }
  }
  std::printf("%s cluster %s: %d nodes (one per %s), supervisor node %d\n",
              groups > 1 ? "root" : "parent", root.name.c_str(), groups > 1 ? groups : s,
              groups > 1 ? "parent cluster" : "cluster", root.supervisor);
  return 0;
}

}  // namespace cohort::cli::devup
