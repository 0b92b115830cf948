// `cohort node list|define|undefine|online|offline|modify` and `cohort join-token` (INTERFACE.md):
// the configuration manager's definitions through the node's API.
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/call.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

void PrintNodes(const json& d) {
  std::printf("cluster %s\n", d["cluster"].get<std::string>().c_str());
  std::printf("%-6s %-16s %-8s %-9s %s\n", "NODE", "NAME", "STATE", "REGISTRY", "UID");
  for (const auto& n : d["nodes"]) {
    const std::string id = n["id"].dump() + (n["self"].get<bool>() ? "*" : "");
    std::printf("%-6s %-16s %-8s %-9s %s\n", id.c_str(), n["name"].get<std::string>().c_str(),
                n["state"].get<std::string>().c_str(),
                n["registry_server"].get<bool>() ? "server" : "-",
                n["uid"].get<std::string>().c_str());
  }
  std::printf("(* the node that answered)\n");
}

// Node `id`'s membership state as the answering member lists it ("" when not listed).
std::string StateOf(const Globals& g, int id) {
  auto doc = Call{g}.Do("GET", "/v1/nodes");
  if (!doc) return "";
  for (const auto& n : (*doc)["nodes"]) {
    if (n["id"] == id) return n["state"].get<std::string>();
  }
  return "";
}

// `node online|offline N`: asks, then waits until the members see node N up (or not).
int SetOnline(const Globals& g, int id, bool online) {
  const auto t0 = std::chrono::steady_clock::now();
  auto answer =
      Call{g}.Do("POST", "/v1/nodes/" + std::to_string(id) + (online ? "/online" : "/offline"),
                 json::object(), true, 15000);
  if (answer) {
    bool settled = false;
    for (int i = 0; i < 600 && !settled && MillisSince(t0) < 30'000; ++i) {
      settled = (StateOf(g, id) == "up") == online;
      if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!settled) {
      answer = Error(Errc::kTimeout, "node " + std::to_string(id) + " is not " +
                                         (online ? "up" : "gone") + " after 30 s (see its log)");
    } else {
      (*answer)["elapsed_ms"] = MillisSince(t0);
    }
  }
  return Print(g, answer, [](const json& d) {
    std::printf("%s (%lld ms)\n", d["message"].get<std::string>().c_str(),
                static_cast<long long>(d["elapsed_ms"].get<int64_t>()));
  });
}

void AddNodeStateCommands(CLI::App* node, const Globals& g, int& rc) {
  static int id = 0;
  static std::string new_name;
  auto* online =
      node->add_subcommand("online", "start node N in this cluster (it must be waiting)");
  online->add_option("N", id, "node number")->required()->check(CLI::Range(1, 65535));
  online->callback([&g, &rc] { rc = SetOnline(g, id, true); });
  auto* offline = node->add_subcommand("offline", "take node N out of this cluster; it then waits");
  offline->add_option("N", id, "node number")->required()->check(CLI::Range(1, 65535));
  offline->callback([&g, &rc] { rc = SetOnline(g, id, false); });
  auto* modify = node->add_subcommand("modify", "rename node N in its definition");
  modify->add_option("N", id, "node number")->required()->check(CLI::Range(1, 65535));
  modify->add_option("--name", new_name, "its new name")->required();
  modify->callback([&g, &rc] {
    rc = Print(g,
               Call{g}.Do("POST", "/v1/nodes/" + std::to_string(id) + "/modify",
                          json{{"name", new_name}}, true),
               [](const json& d) { std::printf("%s\n", d["message"].get<std::string>().c_str()); });
  });
}

}  // namespace

void AddConfigurationCommands(CLI::App& app, const Globals& g, int& rc) {
  static int number = 0;
  static std::string address, join_token, name;
  auto* node = app.add_subcommand("node", "the nodes defined in the cluster (C4)");
  node->require_subcommand(1);
  node->add_subcommand("list", "every defined node: number, name, state, UID")->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("GET", "/v1/nodes"), PrintNodes);
  });
  auto* define = node->add_subcommand(
      "define",
      "define the node waiting at ADDRESS (its API address) to this cluster; it then "
      "starts in it");
  define->add_option("ADDRESS", address, "the API address a.b.c.d:port of the node to define")
      ->required();
  define->add_option("--join-token", join_token, "the token `cohort join-token` printed there")
      ->required();
  define->add_option("--number", number, "its node number (default: the lowest free one)")
      ->check(CLI::Range(1, 65535));
  define->add_option("--name", name, "its name (default: n<number>)");
  define->callback([&g, &rc] {
    json body{{"address", address}, {"join_token", join_token}, {"name", name}};
    if (number != 0) body["number"] = number;
    rc = Print(g, Call{g}.Do("POST", "/v1/nodes", body, true, 60000),
               [](const json& d) { std::printf("%s\n", d["message"].get<std::string>().c_str()); });
  });
  app.add_subcommand("join-token",
                     "on a node waiting to be defined: a one-time token for `node define`")
      ->callback([&g, &rc] {
        rc = Print(
            g, Call{g}.Do("POST", "/v1/join-token", json::object(), true),
            [](const json& d) { std::printf("%s\n", d["token"].get<std::string>().c_str()); });
      });
  AddNodeStateCommands(node, g, rc);
  auto* undefine = node->add_subcommand(
      "undefine",
      "remove node N's definition (its number and UID) from the cluster; N must be "
      "stopped");
  undefine->add_option("N", number, "node number")->required()->check(CLI::Range(1, 65535));
  undefine->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("DELETE", "/v1/nodes/" + std::to_string(number), json(), true),
               [](const json& d) { std::printf("%s\n", d["message"].get<std::string>().c_str()); });
  });
}

}  // namespace cohort::cli
