#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli/call.h"
#include "cli/cli.h"
#include "cli/job_print.h"
#include "io/files.h"
#include "wire/seal.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

void PrintStatus(const json& s) {
  if (s["role"] == "undefined") {  // a node waiting to be defined (C7)
    std::printf("node        %d (%s)\n", s["node"]["id"].get<int>(),
                s["node"]["name"].get<std::string>().c_str());
    std::printf(
        "cluster     - (waiting to be defined: `cohort join-token` here, then `cohort node "
        "define` on a member)\n");
    std::printf("uid         %s\n", s["uid"].get<std::string>().c_str());
    return;
  }
  std::printf("node        %d (%s)\n", s["node"]["id"].get<int>(),
              s["node"]["name"].get<std::string>().c_str());
  std::printf("cluster     %s\n", s["cluster"].get<std::string>().c_str());
  std::printf("role        %s\n", s["role"].get<std::string>().c_str());
  std::printf("supervisor  %s\n",
              s["supervisor"].is_null() ? "-" : std::to_string(s["supervisor"].get<int>()).c_str());
  std::printf("map         version %llu (%s)\n", s["map_version"].get<unsigned long long>(),
              s["membership_state"].get<std::string>().c_str());
  for (const auto& [name, state] : s["components"].items()) {
    std::printf("component   %-10s %s\n", name.c_str(), state.get<std::string>().c_str());
  }
  const auto& t = s["address_table"];
  std::printf("addresses   %zu nodes, version %llu, digest %s\n", t["nodes"].get<size_t>(),
              t["version"].get<unsigned long long>(), t["digest"].get<std::string>().c_str());
  std::printf("uptime      %.1f s\n", s["uptime_s"].get<double>());
}

void PrintAddresses(const json& a) {
  std::printf("address table version %llu, digest %s, %zu nodes\n",
              a["version"].get<unsigned long long>(), a["digest"].get<std::string>().c_str(),
              a["nodes"].size());
  std::printf("%-6s %-22s %-12s %-5s %-5s %-9s %-6s %-16s %s\n", "NODE", "ADDRESS", "STATUS",
              "PREF", "HOPS", "TYPE", "MTU", "MASK", "COS");
  for (const auto& n : a["nodes"]) {
    bool first = true;
    for (const auto& x : n["addresses"]) {
      const std::string node =
          first ? std::to_string(n["id"].get<int>()) + (n["self"].get<bool>() ? "*" : "") : "";
      const std::string hops = x.contains("hops") ? std::to_string(x["hops"].get<int>()) : "-";
      std::printf("%-6s %-22s %-12s %-5s %-5s %-9s %-6d %-16s %s\n", node.c_str(),
                  x["address"].get<std::string>().c_str(), x["status"].get<std::string>().c_str(),
                  x["preferred"].get<bool>() ? "yes" : "", hops.c_str(),
                  x["type"].get<std::string>().c_str(), x["mtu"].get<int>(),
                  x["mask"].get<std::string>().c_str(), x["cos"].get<std::string>().c_str());
      first = false;
    }
  }
  std::printf(
      "(* this node; PREF: the address requests go to first; HOPS: routers its last datagram "
      "crossed, - if none heard)\n");
}

void PrintMembers(const json& m) {
  std::printf("cluster %s, supervisor %s, map version %llu\n",
              m["cluster"].get<std::string>().c_str(),
              m["supervisor"].is_null() ? "-" : std::to_string(m["supervisor"].get<int>()).c_str(),
              m["map_version"].get<unsigned long long>());
  std::printf("%-6s %-10s %-8s %-4s %s\n", "NODE", "NAME", "STATE", "SUP", "ADDRESSES");
  for (const auto& x : m["members"]) {
    std::string addrs;
    for (const auto& a : x["addresses"])
      addrs += (addrs.empty() ? "" : ", ") + a.get<std::string>();
    std::printf("%-6d %-10s %-8s %-4s %s\n", x["id"].get<int>(),
                x["name"].get<std::string>().c_str(), x["state"].get<std::string>().c_str(),
                x["supervisor"].get<bool>() ? "*" : "", addrs.c_str());
  }
}

std::string AggregateText(const json& a) {
  const json& d = a["disk_counts"];
  return std::to_string(a["members_up"].get<uint64_t>()) + " of " +
         std::to_string(a["members"].get<uint64_t>()) + " up, " +
         std::to_string(a["capacity_mbps"].get<uint64_t>()) + " Mbit/s (" +
         std::to_string(a["free_mbps"].get<uint64_t>()) + " free), disks " +
         std::to_string(d["ok"].get<uint64_t>()) + " ok " +
         std::to_string(d["degraded"].get<uint64_t>()) + " degraded " +
         std::to_string(d["failed"].get<uint64_t>()) + " failed";
}

// M14: a level's figures and its members' table.
// A view sent down over its size bound lists a far level's first members only.
void PrintOmitted(int omitted, const std::string& pad) {
  if (omitted == 0) return;
  std::printf(
      "%s  (%d more members not listed: the view sent down is over its 480 KiB bound; "
      "ask a node of that level with --node)\n",
      pad.c_str(), omitted);
}

void PrintLevelMap(const json& p, int depth) {
  const std::string pad(2 * depth, ' ');
  if (p.contains("aggregate")) {
    const std::string which =
        depth == 1 ? "parent cluster" : "cluster " + p["name"].get<std::string>();
    std::printf("%s  %s: %s\n", pad.c_str(), which.c_str(), AggregateText(p["aggregate"]).c_str());
  }
  std::printf("%s  %-6s %-8s %-18s %s\n", pad.c_str(), "NODE", "STATE", "INCARNATION",
              "SUB-CLUSTER");
  for (const json& x : p["map"]["members"]) {
    const json agg = x.value("aggregate", json());
    std::printf("%s  %-6d %-8s %-18llu %s\n", pad.c_str(), x["id"].get<int>(),
                x["state"].get<std::string>().c_str(), x["incarnation"].get<unsigned long long>(),
                agg.is_null() ? "-" : AggregateText(agg).c_str());
  }
  PrintOmitted(p["map"].value("omitted", 0), pad);
}

// M14: one level above the cluster (depth 1: the parent), then the levels above it.
void PrintLevel(const json& p, int depth) {
  const std::string pad(2 * depth, ' ');
  std::printf("%s%s parent cluster %s as node %d, ", pad.c_str(), depth == 1 ? "in" : "its",
              p["name"].get<std::string>().c_str(), p["node"].get<int>());
  if (p["held_here"].get<bool>()) {
    const json& m = p["map"];
    std::printf("held here (incarnation %llu, %s; its supervisor %d, map version %llu)\n",
                p["incarnation"].get<unsigned long long>(), p["role"].get<std::string>().c_str(),
                m["supervisor"].get<int>(), m["version"].get<unsigned long long>());
  } else {
    if (p["held_by"].is_null()) {
      std::printf("not held here");
    } else if (depth == 1) {
      std::printf("held by this cluster's supervisor, node %d", p["held_by"].get<int>());
    } else {
      std::printf("held by node %d of the level below", p["held_by"].get<int>());
    }
    if (p.contains("map")) {
      std::printf("; as sent down (its supervisor %d, map version %llu):\n",
                  p["map"]["supervisor"].get<int>(), p["map"]["version"].get<unsigned long long>());
    } else {
      std::printf(" (nothing sent down yet)\n");
    }
    if (p.contains("error")) {
      std::printf("%s  error: %s\n", pad.c_str(), p["error"].get<std::string>().c_str());
    }
  }
  if (p.contains("map")) PrintLevelMap(p, depth);
  if (p.contains("parent") && p["parent"].is_object()) PrintLevel(p["parent"], depth + 1);
}

// M14: this cluster and, when it has them, the levels above it as this node sees them.
void PrintTree(const json& h) {
  const json& c = h["cluster"];
  std::printf("cluster %s (this is node %d, path %s), supervisor %d: %s\n",
              c["name"].get<std::string>().c_str(), c["node"].get<int>(),
              c.value("path", std::string("-")).c_str(), c["supervisor"].get<int>(),
              AggregateText(c["aggregate"]).c_str());
  if (h["parent"].is_null()) {
    std::printf("no parent cluster ([cluster.parent] is not set)\n");
    return;
  }
  PrintLevel(h["parent"], 1);
}

std::string Num(const json& v) {
  if (v.is_null()) return "-";
  char out[32];
  std::snprintf(out, sizeof out, "%g", v.get<double>());
  return out;
}

// M14: the supervisor tables of each level above the cluster — per member, its
// sub-cluster's node usage and disks aggregated.
void PrintLevelTables(const json& levels) {
  for (const json& l : levels) {
    std::printf("\nLEVEL %d: %s (this cluster's subtree is its node %d", l["depth"].get<int>(),
                l["name"].get<std::string>().c_str(), l["node"].get<int>());
    if (l["map_version"].is_null()) {
      std::printf("; nothing known of it yet)\n");
      continue;
    }
    std::printf("; supervisor %s, map version %llu)\n",
                l["supervisor"].is_null() ? "not elected yet"
                                          : std::to_string(l["supervisor"].get<int>()).c_str(),
                l["map_version"].get<unsigned long long>());
    if (!l["aggregate"].is_null())
      std::printf("total: %s\n", AggregateText(l["aggregate"]).c_str());
    std::printf("%-6s %-8s %-8s %-14s %-10s %-8s %-9s %-9s %s\n", "NODE", "STATE", "UP",
                "CAPACITY Mb/s", "FREE Mb/s", "UNKNOWN", "DISKS OK", "DEGRADED", "FAILED");
    for (const json& m : l["members"]) {
      const json& a = m["aggregate"];
      if (a.is_null()) {
        std::printf("%-6d %-8s %s\n", m["id"].get<int>(), m["state"].get<std::string>().c_str(),
                    "(no figures yet)");
        continue;
      }
      const json& d = a["disk_counts"];
      const std::string up = std::to_string(a["members_up"].get<uint64_t>()) + "/" +
                             std::to_string(a["members"].get<uint64_t>());
      std::printf(
          "%-6d %-8s %-8s %-14llu %-10llu %-8llu %-9llu %-9llu %llu\n", m["id"].get<int>(),
          m["state"].get<std::string>().c_str(), up.c_str(),
          a["capacity_mbps"].get<unsigned long long>(), a["free_mbps"].get<unsigned long long>(),
          a["capacity_unknown"].get<unsigned long long>(), d["ok"].get<unsigned long long>(),
          d["degraded"].get<unsigned long long>(), d["failed"].get<unsigned long long>());
    }
    PrintOmitted(l.value("omitted", 0), "");
  }
}

// M12: the four supervisor tables.
void PrintTables(const json& t) {
  std::printf("cluster %s, supervisor %s, map version %llu; connectivity as seen from node %d\n",
              t["cluster"].get<std::string>().c_str(),
              t["supervisor"].is_null() ? "-" : std::to_string(t["supervisor"].get<int>()).c_str(),
              t["map_version"].get<unsigned long long>(), t["seen_from"].get<int>());
  std::printf("\nTOPOLOGY: NODES\n%-6s %-10s %-8s %s\n", "NODE", "NAME", "STATE", "ADDRESSES");
  for (const auto& n : t["topology"]["nodes"]) {
    std::string addrs;
    for (const auto& a : n["addresses"]) {
      addrs += (addrs.empty() ? "" : ", ") + a["address"].get<std::string>() + " " +
               a["status"].get<std::string>() + (a["preferred"].get<bool>() ? "*" : "") +
               " liveness " + a.value("liveness", "?");
    }
    std::printf("%-6d %-10s %-8s %s\n", n["id"].get<int>(), n["name"].get<std::string>().c_str(),
                n["state"].get<std::string>().c_str(), addrs.c_str());
  }
  std::printf("\nTOPOLOGY: DISK ACCESS\n%-12s %-9s %s\n", "DISK", "STATE", "ACCESS FROM EACH NODE");
  for (const auto& d : t["topology"]["disks"]) {
    std::string access;
    for (const auto& a : d["access"]) {
      access += (access.empty() ? "" : "  ") + std::to_string(a["node"].get<int>()) + ":" +
                a["path"].get<std::string>();
      if (a["node_state"] != "up") access += "(" + a["node_state"].get<std::string>() + ")";
    }
    std::printf("%-12s %-9s %s\n", d["id"].get<std::string>().c_str(),
                d["state"].get<std::string>().c_str(), access.c_str());
  }
  if (t["usage_from"].is_null()) {
    std::printf("\nusage tables unavailable: %s\n", t["usage_error"].get<std::string>().c_str());
  } else {
    std::printf("\nDISK USAGE (from supervisor %d)\n%-12s %-9s %-11s %-11s %-6s %-6s %s\n",
                t["usage_from"].get<int>(), "DISK", "STATE", "SIZE", "FREE", "USED%", "BUSY%",
                "PROBE ms");
    for (const auto& d : t["disk_usage"]) {
      std::printf("%-12s %-9s %-11s %-11s %-6s %-6s %s\n", d["id"].get<std::string>().c_str(),
                  d["state"].get<std::string>().c_str(), Bytes(d["total_bytes"]).c_str(),
                  Bytes(d["free_bytes"]).c_str(), Num(d["used_percent"]).c_str(),
                  Num(d["busy_percent"]).c_str(), Num(d["probe_ms"]).c_str());
    }
    std::printf("\nNODE USAGE\n%-6s %-10s %-14s %-9s %-9s %-6s %s\n", "NODE", "NAME",
                "CAPACITY Mb/s", "TX Mb/s", "RX Mb/s", "LOAD", "AGE ms");
    for (const auto& n : t["node_usage"]) {
      std::printf("%-6d %-10s %-14s %-9s %-9s %-6s %lld\n", n["id"].get<int>(),
                  n["name"].get<std::string>().c_str(), Num(n["capacity_mbps"]).c_str(),
                  Num(n["tx_mbps"]).c_str(), Num(n["rx_mbps"]).c_str(), Num(n["load"]).c_str(),
                  n["age_ms"].get<long long>());
    }
  }
  std::printf("\nCLUSTER MAP\n");
  PrintMembers(json{{"cluster", t["cluster"]},
                    {"supervisor", t["supervisor"]},
                    {"map_version", t["map_version"]},
                    {"members", t["cluster_map"]}});
  if (t.contains("levels")) PrintLevelTables(t["levels"]);
}

void PrintKeys(const json& k) {
  std::printf("%-10s %s\n", "KEY", "IN USE");
  for (const auto& key : k["keys"]) {
    std::printf("%-10s %s\n", key["id"].get<std::string>().c_str(),
                key["in_use"].get<bool>() ? "yes" : "");
  }
}

std::vector<std::string> SubcommandNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

std::string CommandPath(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a != nullptr; a = a->get_parent()) {
    const std::string name = a->get_parent() ? a->get_name() : "cohort";
    path = path.empty() ? name : name + " " + path;
  }
  return path;
}

// CLI11's messages name its internals ("A subcommand is required", "--count: 1 required
// INT missing"); an operator wants the word that was wrong and what would be right.
std::string PlainParseError(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  // Walk the command words from the top: the first that names no command of the one
  // before it is the unknown one (if that command has commands at all).
  const CLI::App* at = &app;
  std::string unknown;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (!word.empty() && word[0] == '-') {
      // An option that takes a value: the next word is its value, not a command.
      const CLI::Option* option = nullptr;
      for (const CLI::App* a = at; a != nullptr && option == nullptr; a = a->get_parent()) {
        option = a->get_option_no_throw(word);
      }
      if (option != nullptr && option->get_type_size() != 0) ++i;
      continue;
    }
    if (word.empty()) continue;
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->get_name() == word) next = sub;
    }
    if (next) {
      at = next;
      continue;
    }
    if (!SubcommandNames(at).empty()) unknown = word;
    break;
  }
  std::string list;
  for (const auto& n : SubcommandNames(at)) list += (list.empty() ? "" : ", ") + n;
  const std::string where = CommandPath(at);
  if (!unknown.empty()) {
    return "'" + unknown + "' is not a command of '" + where + "'; commands: " + list;
  }
  const std::string what = e.what();
  if (!list.empty() && what.find("subcommand") != std::string::npos) {
    return "'" + where + "' needs a command: " + list;
  }
  if (what.find("required") != std::string::npos && what.find("missing") != std::string::npos) {
    return what.substr(0, what.find(':')) + " needs a value (see '" + where + " --help')";
  }
  return what + " (see '" + where + " --help')";
}

}  // namespace

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

namespace {

void AddGlobalOptions(CLI::App& app, Globals& g) {
  // Global options may also follow the subcommand: `cohort addresses --api ... --json`.
  app.fallthrough();
  app.add_option_function<std::string>(
         "--api",
         [&g](const std::string& text) {
           auto e = Endpoint::Parse(text);
           if (!e) throw CLI::ValidationError("--api", e.error().message());
           g.api = *e;
         },
         "a.b.c.d:port of a node's API (default 127.0.0.1:7201)")
      ->envname("COHORT_API");
  app.add_flag("--json", g.json, "print one JSON document");
  app.add_option("--token-file", g.token_file, "API token for changes (default: from the node)");
  app.add_option_function<std::string>(
         "--node",
         [&g](const std::string& text) {
           const bool ids = !text.empty() && text.size() <= 40 &&
                            text.find_first_not_of("0123456789/") == std::string::npos;
           if (!ids) {
             throw CLI::ValidationError("--node", "expected node ids joined by '/', e.g. 2/3");
           }
           g.node = text;
         },
         "the node anywhere in the tree the command is for: its node ids from the root level "
         "down, e.g. 2/3 (relayed by the --api node; a change needs its --token-file)")
      ->envname("COHORT_NODE");
}

void AddKeygen(CLI::App& app, const Globals& g) {
  app.add_subcommand("keygen", "print a new cluster key")->callback([&g] {
    const wire::Key k = wire::GenerateKey();
    if (g.json) {
      std::printf("%s\n",
                  json{{"key", wire::KeyToText(k)}, {"id", wire::KeyIdToText(wire::KeyIdOf(k))}}
                      .dump(2)
                      .c_str());
    } else {
      std::printf("%s\n", wire::KeyToText(k).c_str());
    }
  });
}

// Read-only views: one GET each, printed as a table.
void AddViewCommands(CLI::App& app, const Globals& g, int& rc) {
  struct View {
    const char* name;
    const char* help;
    const char* target;
    void (*print)(const json&);
  };
  static const View views[] = {
      {"status", "this node's state", "/v1/status", PrintStatus},
      {"members", "the cluster map: members and their state", "/v1/members", PrintMembers},
      {"tables",
       "the supervisor tables: topology, disk usage, node usage, map, and per level above",
       "/v1/tables", PrintTables},
      {"addresses", "the cluster destination address table", "/v1/addresses", PrintAddresses},
  };
  static bool tree = false;
  for (const View& v : views) {
    auto* sub = app.add_subcommand(v.name, v.help);
    if (std::string(v.name) == "members") {
      sub->add_flag("--tree", tree, "the hierarchy: this cluster and its parent (M14)");
    }
    sub->callback([&g, &rc, &v] {
      if (tree) {
        rc = Print(g, Call{g}.Do("GET", "/v1/hierarchy"), PrintTree);
        return;
      }
      rc = Print(g, Call{g}.Do("GET", v.target), v.print);
    });
  }
}

void AddKeyCommands(CLI::App& app, const Globals& g, int& rc) {
  static std::string key_text, key_id;
  auto* keys = app.add_subcommand("keys", "the cluster keyring (rotation without downtime)");
  keys->require_subcommand(1);
  keys->add_subcommand("list", "installed keys")->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("GET", "/v1/keys"), PrintKeys);
  });
  auto* install =
      keys->add_subcommand("install", "install a key (accepted at once, used after `use`)");
  install->add_option("KEY", key_text, "key text from `cohort keygen`")->required();
  install->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("POST", "/v1/keys", json{{"key", key_text}}, true), [](const json& d) {
      std::printf("installed %s\n", d["id"].get<std::string>().c_str());
    });
  });
  auto* use = keys->add_subcommand("use", "seal outgoing datagrams with this key");
  use->add_option("ID", key_id, "key id (8 hex digits)")->required();
  use->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("POST", "/v1/keys/use", json{{"id", key_id}}, true), PrintKeys);
  });
  auto* remove = keys->add_subcommand("remove", "remove a key that is not in use");
  remove->add_option("ID", key_id, "key id (8 hex digits)")->required();
  remove->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("DELETE", "/v1/keys/" + key_id, json(), true), PrintKeys);
  });
}

struct PingOptions {
  int node = 0, count = 5, interval_ms = 200, size = 32;
};

// Prints each reply; any request unanswered is a failure for scripts too (as ping(8) exits 1).
int PrintPing(const Globals& g, const PingOptions& o, const Result<json>& answer) {
  int rc = Print(g, answer, [&](const json& d) {
    int ok = 0, n = 0;
    for (const auto& r : d["replies"]) {
      ++n;
      if (r["ok"].get<bool>()) {
        ++ok;
        std::printf("reply from node %d via %-22s attempts=%d rtt=%.3f ms total=%.3f ms\n", o.node,
                    r["address"].get<std::string>().c_str(), r["attempts"].get<int>(),
                    r["rtt_ms"].get<double>(), r["elapsed_ms"].get<double>());
      } else {
        std::printf("no reply from node %d (attempts=%d)\n", o.node, r["attempts"].get<int>());
      }
    }
    std::printf("%d of %d answered\n", ok, n);
  });
  if (rc == 0 && answer) {
    for (const auto& r : (*answer)["replies"]) {
      if (!r.value("ok", false)) rc = 1;
    }
  }
  return rc;
}

void AddPingCommand(CLI::App& app, const Globals& g, int& rc) {
  static PingOptions o;
  auto* ping =
      app.add_subcommand("ping", "request/reply with a node, showing the address that answers");
  ping->add_option("NODE", o.node, "node id")->required()->check(CLI::Range(1, 65535));
  ping->add_option("--count", o.count, "requests to send")->check(CLI::Range(1, 10000));
  ping->add_option("--interval-ms", o.interval_ms, "time between requests")
      ->check(CLI::Range(1, 60000));
  ping->add_option("--size", o.size, "payload bytes (large ones are fragmented)")
      ->check(CLI::Range(0, 60000));
  ping->callback([&g, &rc] {
    const json body{
        {"node", o.node}, {"count", o.count}, {"interval_ms", o.interval_ms}, {"size", o.size}};
    const int timeout = o.count * o.interval_ms + 30000;
    rc = PrintPing(g, o, Call{g}.Do("POST", "/v1/ping", body, false, timeout));
  });
}

void AddAdapterCommands(CLI::App& app, const Globals& g, int& rc) {
  static std::string address;
  auto* adapter = app.add_subcommand("adapter", "take a local adapter out of service or back");
  adapter->require_subcommand(1);
  for (const char* verb : {"down", "up"}) {
    auto* sub = adapter->add_subcommand(verb, std::string("adapter ") + verb);
    sub->add_option("ADDRESS", address, "the adapter's listen address a.b.c.d:port")->required();
    sub->callback([&g, &rc, verb] {
      rc = Print(
          g,
          Call{g}.Do("POST", std::string("/v1/adapters/") + verb, json{{"address", address}}, true),
          [verb](const json&) { std::printf("adapter %s is %s\n", address.c_str(), verb); });
    });
  }
}

int Parse(CLI::App& app, int argc, char** argv, const int& rc) {
  if (argc <= 1) {  // a bare `cohort`: what it can do
    std::printf("%s", app.help().c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return Fail(2, PlainParseError(app, e, argc, argv));
  } catch (const std::exception& e) {
    // A command's printer met an answer of another shape than it reads (a node of another
    // version, or not a cohort API at --api): one line, not an abort.
    return Fail(1, std::string("unexpected answer from the node: ") + e.what());
  }
  return rc;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"cohort: manage a cohort cluster through a node's API"};
  app.require_subcommand(1);
  Globals g;
  AddGlobalOptions(app, g);
  int rc = 0;
  AddKeygen(app, g);
  AddViewCommands(app, g, rc);
  AddKeyCommands(app, g, rc);
  AddPingCommand(app, g, rc);
  AddAdapterCommands(app, g, rc);
  AddRegistryCommands(app, g, rc);
  AddClusterCommands(app, g, rc);
  AddLivenessCommands(app, g, rc);
  AddGroupCommands(app, g, rc);
  AddResourceCommands(app, g, rc);
  AddStreamCommands(app, g, rc);
  AddNetworkObjectCommands(app, g, rc);
  AddConfigurationCommands(app, g, rc);
  AddJobCommands(app, g, rc);
  AddDevCommands(app, g, rc);
  AddDoctorCommand(app, g, rc);
  return Parse(app, argc, argv, rc);
}

}  // namespace cohort::cli
