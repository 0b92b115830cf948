// `cohort node list|define|undefine` and `cohort join-token` (INTERFACE.md): the configuration
// manager's definitions through the node's API.
#include <cstdio>

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
