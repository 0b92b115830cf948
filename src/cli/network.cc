// `cohort network list|define|modify|undefine` and `cohort subnet list|define|modify|undefine`
// (INTERFACE.md; C11): the network objects, and each network's routing table (the priority
// of each kind of system traffic on it, RM3).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/call.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

void PrintNetworks(const json& d) {
  std::printf("%-16s %-34s %s\n", "NETWORK", "SUBNETS", "PRIORITIES");
  for (const auto& n : d["networks"]) {
    std::string subnets, priorities;
    for (const auto& s : n["subnets"])
      subnets += (subnets.empty() ? "" : ",") + s.get<std::string>();
    for (const auto& [service, p] : n["priority"].items()) {
      if (p.get<int>() != 0) {
        priorities +=
            (priorities.empty() ? "" : " ") + service + "=" + std::to_string(p.get<int>());
      }
    }
    std::printf("%-16s %-34s %s\n", n["name"].get<std::string>().c_str(),
                subnets.empty() ? "-" : subnets.c_str(),
                priorities.empty() ? "-" : priorities.c_str());
  }
  std::printf("%zu network(s); unmapped subnets and unset services have priority 0\n",
              d["networks"].size());
}

void PrintSubnets(const json& d) {
  std::printf("%-20s %-16s %-9s %s\n", "SUBNET", "NETWORK", "DEFINED", "ADDRESSES");
  for (const auto& s : d["subnets"]) {
    std::string addresses;
    for (const auto& a : s["addresses"]) {
      addresses += (addresses.empty() ? "" : " ") + a["address"].get<std::string>() + "(n" +
                   std::to_string(a["node"].get<int>()) + ")";
    }
    std::printf("%-20s %-16s %-9s %s\n", s["prefix"].get<std::string>().c_str(),
                s["network"].is_null() ? "-" : s["network"].get<std::string>().c_str(),
                s["implicit"].get<bool>() ? "by node" : "operator",
                addresses.empty() ? "-" : addresses.c_str());
  }
}

void PrintMessage(const json& d) { std::printf("%s\n", d["message"].get<std::string>().c_str()); }

// "SERVICE=N" pairs as the API's {"priority": {...}}; the service names are checked there.
Result<json> PriorityBody(const std::vector<std::string>& pairs) {
  json priority = json::object();
  for (const std::string& p : pairs) {
    const size_t eq = p.find('=');
    char* end = nullptr;
    const long v = eq == std::string::npos ? -1 : std::strtol(p.c_str() + eq + 1, &end, 10);
    if (eq == std::string::npos || eq == 0 || end == p.c_str() + eq + 1 || *end != '\0') {
      return Error(Errc::kInvalidArgument, "--priority '" + p + "': expected SERVICE=N");
    }
    priority[p.substr(0, eq)] = v;
  }
  return priority;
}

int Post(const Globals& g, const std::string& target, const json& body) {
  return Print(g, Call{g}.Do("POST", target, body, true), PrintMessage);
}

void AddNetworkCommands(CLI::App& app, const Globals& g, int& rc) {
  static std::string name, new_name;
  static std::vector<std::string> priorities;
  auto* net = app.add_subcommand("network", "networks and their routing tables (C11, RM3)");
  net->require_subcommand(1);
  net->add_subcommand("list", "every network: its subnets and the priority of each service")
      ->callback([&g, &rc] { rc = Print(g, Call{g}.Do("GET", "/v1/networks"), PrintNetworks); });
  auto with_priority = [&g, &rc](CLI::App* cmd, const std::string& target) {
    cmd->add_option("--priority", priorities,
                    "SERVICE=N: the priority of membership, registry, distribution, api, groups "
                    "or streams on this network (higher first; repeatable)");
    cmd->callback([&g, &rc, target] {
      auto priority = PriorityBody(priorities);
      if (!priority) {
        rc = Fail(2, priority.error().message());
        return;
      }
      json body{{"name", name}};
      if (!priority->empty()) body["priority"] = *priority;
      if (!new_name.empty()) body["new_name"] = new_name;
      rc = Post(g, target, body);
    });
  };
  auto* define = net->add_subcommand("define", "define a network");
  define->add_option("NAME", name, "its name")->required();
  with_priority(define, "/v1/networks");
  auto* modify = net->add_subcommand("modify", "change a network's name or priorities");
  modify->add_option("NAME", name, "the network")->required();
  modify->add_option("--name", new_name, "its new name (its subnets follow)");
  with_priority(modify, "/v1/networks/modify");
  auto* undefine = net->add_subcommand("undefine", "undefine a network no subnet maps to");
  undefine->add_option("NAME", name, "the network")->required();
  undefine->callback([&g, &rc] { rc = Post(g, "/v1/networks/undefine", json{{"name", name}}); });
}

void AddSubnetCommands(CLI::App& app, const Globals& g, int& rc) {
  static std::string prefix, network;
  static bool unmap = false;
  auto* sub = app.add_subcommand("subnet", "subnets and the networks they map to (C11)");
  sub->require_subcommand(1);
  sub->add_subcommand("list", "every subnet: its network and the node addresses on it")
      ->callback([&g, &rc] { rc = Print(g, Call{g}.Do("GET", "/v1/networks"), PrintSubnets); });
  auto* define = sub->add_subcommand("define", "define a subnet");
  define->add_option("PREFIX", prefix, "a.b.c.d/len")->required();
  define->add_option("--network", network, "the network it maps to");
  define->callback([&g, &rc] {
    json body{{"prefix", prefix}};
    if (!network.empty()) body["network"] = network;
    rc = Post(g, "/v1/subnets", body);
  });
  auto* modify = sub->add_subcommand("modify", "map a subnet to a network, or unmap it");
  modify->add_option("PREFIX", prefix, "a.b.c.d/len")->required();
  auto* to = modify->add_option("--network", network, "the network it maps to");
  modify->add_flag("--unmap", unmap, "map it to no network")->excludes(to);
  modify->callback([&g, &rc] {
    if (network.empty() && !unmap) {
      rc = Fail(2, "give --network NAME or --unmap");
      return;
    }
    rc = Post(g, "/v1/subnets/modify", json{{"prefix", prefix}, {"network", network}});
  });
  auto* undefine = sub->add_subcommand("undefine", "undefine a subnet");
  undefine->add_option("PREFIX", prefix, "a.b.c.d/len")->required();
  undefine->callback([&g, &rc] { rc = Post(g, "/v1/subnets/undefine", json{{"prefix", prefix}}); });
}

}  // namespace

void AddNetworkObjectCommands(CLI::App& app, const Globals& g, int& rc) {
  AddNetworkCommands(app, g, rc);
  AddSubnetCommands(app, g, rc);
}

}  // namespace cohort::cli
