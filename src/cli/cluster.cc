// `cohort cluster list|define|undefine|online|offline|move` (INTERFACE.md; C3, C10): the
// clusters the node is defined to. A change that starts the node again (online, offline,
// move) waits for the node to answer from where it went, and says where that is.
// `cohort cluster parent show|set FILE|clear` (M14): the levels above the node's cluster,
// defined at run time.
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/call.h"
#include "cli/progress.h"
#include "io/files.h"

namespace cohort::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void PrintClusters(const json& d) {
  std::printf("%-18s %-16s %-6s %-9s %-8s %s\n", "ID", "NAME", "NODE", "STATE", "POINTER", "UID");
  for (const auto& c : d["clusters"]) {
    const std::string pointer =
        std::string(c["current"].get<bool>() ? "current" : "") +
        (c["target"].get<bool>() && !c["current"].get<bool>() ? "target" : "");
    std::printf("%-18s %-16s %-6s %-9s %-8s %s\n", c["id"].get<std::string>().c_str(),
                c["name"].get<std::string>().c_str(),
                c["node"].is_null() ? "-" : c["node"].dump().c_str(),
                c["state"].get<std::string>().c_str(), pointer.empty() ? "-" : pointer.c_str(),
                c["uid"].get<std::string>().empty() ? "-" : c["uid"].get<std::string>().c_str());
  }
  std::printf("this machine's uid: %s (definition %s)\n", d["uid"].get<std::string>().c_str(),
              d["identity"].get<std::string>().c_str());
}

// A change that starts the node again in another place of the tree (another cluster, or
// under another parent) changes its path: it is asked of the node's own API, whose answers
// can be waited for. True (and rc set) when --node asks otherwise.
bool RefusedRelayed(const Globals& g, int& rc) {
  if (g.node.empty()) return false;
  rc = Fail(2, "this change moves node " + g.node +
                   " in the tree, so its path changes: ask its own API (--api), not --node");
  return true;
}

// The node's answer to GET `target` once `done` holds for it, polled every 50 ms while the
// node starts again (calls fail meanwhile); an error at the deadline.
Result<json> WaitFor(const Globals& g, const std::string& target,
                     const std::function<bool(const json&)>& done, int64_t timeout_ms,
                     const std::string& what = "waiting for the node") {
  const auto t0 = Clock::now();
  Progress progress(g);
  for (int attempt = 0; attempt < 100'000; ++attempt) {
    progress.Say(what);
    auto doc = Call{g}.Do("GET", target, {}, false, 1000);
    try {
      if (doc && done(*doc)) return doc;
    } catch (const json::exception&) {
      // not the document expected (yet): the node may still be starting as something else
    }
    if (MillisSince(t0) > timeout_ms) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Error(Errc::kTimeout, "the node did not answer as expected within " +
                                   std::to_string(timeout_ms / 1000) + " s (see its log)");
}

// Where the node runs now: its cluster's id and name, once it is in it.
bool InCluster(const json& status, const std::string& id) {
  const std::string state = status.value("membership_state", "");
  return status.value("cluster_id", json()).is_string() && status["cluster_id"] == id &&
         (state == "member" || state == "supervisor");
}

// POST a change; for one that starts the node again, waits as `settled` says and reports.
int Change(const Globals& g, const std::string& target, const json& body,
           const std::function<Result<json>(const json& answer, Clock::time_point t0)>& settled) {
  const auto t0 = Clock::now();
  auto answer = Call{g}.Do("POST", target, body, true);
  if (!answer || !answer->value("restart", false) || !settled) {
    return Print(g, answer, [](const json& d) {
      std::printf("%s\n", d["message"].get<std::string>().c_str());
    });
  }
  if (!g.json) std::fprintf(stderr, "%s\n", (*answer)["message"].get<std::string>().c_str());
  auto outcome = settled(*answer, t0);
  if (outcome) (*outcome)["elapsed_ms"] = MillisSince(t0);
  return Print(g, outcome, [](const json& d) {
    std::printf("%s (%lld ms)\n", d["message"].get<std::string>().c_str(),
                static_cast<long long>(d["elapsed_ms"].get<int64_t>()));
  });
}

// C10: the move settles (current = target = there) or returns (current = target = here).
Result<json> AwaitMove(const Globals& g, const json& answer, int64_t deadline_ms) {
  const std::string there = answer.value("cluster_id", "");
  auto pointers = WaitFor(
      g, "/v1/clusters",
      [](const json& d) {
        return d["current"] == d["target"] && !d["current"].get<std::string>().empty();
      },
      deadline_ms + 20'000, "waiting for the node to settle in a cluster");
  if (!pointers) return pointers.error();
  const std::string current = (*pointers)["current"];
  auto status = WaitFor(
      g, "/v1/status", [&](const json& s) { return InCluster(s, current); }, 20'000,
      "waiting for the node to be a member there");
  if (!status) return status.error();
  const bool moved = current == there;
  const std::string name = (*status)["cluster"];
  return json{{"moved", moved},
              {"cluster", name},
              {"cluster_id", current},
              {"node", (*status)["node"]["id"]},
              {"message", moved ? "moved: node " + (*status)["node"]["id"].dump() +
                                      " is online in cluster " + name
                                : "not online in the target within the deadline: back in "
                                  "cluster " +
                                      name + " as node " + (*status)["node"]["id"].dump()}};
}

void AddClusterChanges(CLI::App* cluster, const Globals& g, int& rc) {
  static std::string name, registry_client, registry_peer;
  static int number = 1;
  static int64_t deadline_ms = 3000;
  auto* define = cluster->add_subcommand(
      "define", "define a new cluster with this node as its first member and registry server");
  define->add_option("NAME", name, "the cluster's name")->required();
  define->add_option("--number", number, "this node's number in it (default 1)")
      ->check(CLI::Range(1, 65535));
  define->add_option("--registry-client", registry_client,
                     "where its registry server takes clients (default: first adapter:2379)");
  define->add_option("--registry-peer", registry_peer,
                     "where its registry server takes peers (default: first adapter:2380)");
  define->callback([&g, &rc] {
    json body{{"name", name}, {"number", number}};
    if (!registry_client.empty()) body["registry_client"] = registry_client;
    if (!registry_peer.empty()) body["registry_peer"] = registry_peer;
    rc = Change(g, "/v1/clusters", body, nullptr);
  });
  auto* undefine = cluster->add_subcommand(
      "undefine", "forget cluster NAME on this node (it must not run in it)");
  undefine->add_option("NAME", name, "the cluster's name or id")->required();
  undefine->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("DELETE", "/v1/clusters/" + UrlEncode(name), json(), true),
               [](const json& d) { std::printf("%s\n", d["message"].get<std::string>().c_str()); });
  });
  auto* online = cluster->add_subcommand("online", "start this node in cluster NAME");
  online->add_option("NAME", name, "the cluster's name or id")->required();
  online->callback([&g, &rc] {
    if (RefusedRelayed(g, rc)) return;
    rc = Change(
        g, "/v1/clusters/" + UrlEncode(name) + "/online", json::object(),
        [&g](const json& answer, Clock::time_point) -> Result<json> {
          const std::string id = answer.value("cluster_id", "");
          // Online, and its registry takes writes (so `node define` works next).
          auto s = WaitFor(
              g, "/v1/status",
              [&](const json& d) {
                const json& c = d.value("components", json::object());
                return InCluster(d, id) && c.value("registry", "read-write") == "read-write";
              },
              60'000);
          if (!s) return s.error();
          return json{{"cluster", (*s)["cluster"]},
                      {"cluster_id", id},
                      {"node", (*s)["node"]["id"]},
                      {"message", "node " + (*s)["node"]["id"].dump() + " is online in cluster " +
                                      (*s)["cluster"].get<std::string>()}};
        });
  });
  auto* offline = cluster->add_subcommand("offline", "leave cluster NAME; the node then waits");
  offline->add_option("NAME", name, "the cluster's name or id")->required();
  offline->callback([&g, &rc] {
    if (RefusedRelayed(g, rc)) return;
    rc = Change(g, "/v1/clusters/" + UrlEncode(name) + "/offline", json::object(),
                [&g](const json&, Clock::time_point) -> Result<json> {
                  auto s = WaitFor(
                      g, "/v1/status",
                      [](const json& d) { return d.value("role", "") == "offline"; }, 30'000);
                  if (!s) return s.error();
                  return json{{"message", "node offline: it waits for `cohort cluster online`"}};
                });
  });
  auto* move = cluster->add_subcommand(
      "move", "move this node to cluster NAME, or back here if it is not online there in time");
  move->add_option("NAME", name, "the cluster's name or id")->required();
  move->add_option("--deadline-ms", deadline_ms, "time to be online there (default 3000)")
      ->check(CLI::Range(100, 600000));
  move->callback([&g, &rc] {
    if (RefusedRelayed(g, rc)) return;
    rc = Change(
        g, "/v1/clusters/" + UrlEncode(name) + "/move", json{{"deadline_ms", deadline_ms}},
        [&g](const json& answer, Clock::time_point) { return AwaitMove(g, answer, deadline_ms); });
  });
}

void PrintParent(const json& d) {
  std::printf("cluster %s: levels above it defined %s\n", d["cluster"].get<std::string>().c_str(),
              d["defined"] == "none"   ? "nowhere (no parent)"
              : d["defined"] == "file" ? "by the node's file"
                                       : "at run time");
  for (const json& l : d["levels"]) {
    std::printf("  level %d: %s as node %d, listen %s, level factor %d, key %s\n",
                l["depth"].get<int>(), l["name"].get<std::string>().c_str(), l["id"].get<int>(),
                l["listen"].get<std::string>().c_str(), l["level_factor"].get<int>(),
                l["key_file"].get<std::string>().c_str());
  }
}

// A change of the parent starts the node again: done once the node answers having started
// since the change, in its cluster again.
int ParentChange(const Globals& g, const std::string& method, const std::string& body) {
  const auto t0 = Clock::now();
  auto answer = Call{g}.Send(method, "/v1/cluster/parent", body, true);
  if (!answer) return Print(g, answer, nullptr);
  if (!g.json) std::fprintf(stderr, "%s\n", (*answer)["message"].get<std::string>().c_str());
  auto status = WaitFor(
      g, "/v1/status",
      [&](const json& s) {
        const std::string role = s.value("membership_state", "");
        return s["uptime_s"].get<double>() * 1000 < static_cast<double>(MillisSince(t0)) &&
               (role == "member" || role == "supervisor");
      },
      30'000);
  if (!status) return Print(g, status.error(), nullptr);
  return Print(g, Call{g}.Do("GET", "/v1/cluster/parent"), PrintParent);
}

void AddParentCommands(CLI::App* cluster, const Globals& g, int& rc) {
  auto* parent = cluster->add_subcommand(
      "parent", "the levels above this node's cluster (M14), defined at run time");
  parent->require_subcommand(1);
  parent->add_subcommand("show", "where they come from and each level's settings")
      ->callback(
          [&g, &rc] { rc = Print(g, Call{g}.Do("GET", "/v1/cluster/parent"), PrintParent); });
  static std::string file;
  auto* set = parent->add_subcommand(
      "set", "define them from FILE ([cluster.parent] as in a node's file); the node starts again");
  set->add_option("FILE", file, "TOML with [cluster.parent] (nested: [cluster.parent.parent])")
      ->required();
  set->callback([&g, &rc] {
    if (RefusedRelayed(g, rc)) return;
    auto text = io::ReadFile(file);
    if (!text) {
      rc = Fail(1, "cannot read " + file + ": " + text.error().message());
      return;
    }
    rc = ParentChange(g, "PUT", *text);
  });
  parent->add_subcommand("clear", "forget them: the node's file decides again; it starts again")
      ->callback([&g, &rc] {
        if (!RefusedRelayed(g, rc)) rc = ParentChange(g, "DELETE", "");
      });
}

}  // namespace

void AddClusterCommands(CLI::App& app, const Globals& g, int& rc) {
  auto* cluster = app.add_subcommand("cluster", "the clusters this node is defined to (C3, C10)");
  cluster->require_subcommand(1);
  cluster->add_subcommand("list", "id, name, this node's number, state and UID in each")
      ->callback([&g, &rc] { rc = Print(g, Call{g}.Do("GET", "/v1/clusters"), PrintClusters); });
  AddClusterChanges(cluster, g, rc);
  AddParentCommands(cluster, g, rc);
}

}  // namespace cohort::cli
