// `cohort registry status|put|get|del|list|watch` (INTERFACE.md): the System Registry
// through the node's API.
#include <poll.h>

#include <cstdio>

#include "cli/call.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

std::string OrDash(const json& v) {
  if (v.is_null()) return "-";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void PrintRegistryStatus(const json& s) {
  std::printf("phase         %s\n", s["phase"].get<std::string>().c_str());
  std::printf("leader        %s\n", OrDash(s.value("leader", json())).c_str());
  std::string servers;
  for (const auto& id : s.value("servers", json::array())) {
    servers += (servers.empty() ? "" : ", ") + id.dump();
  }
  std::printf("servers       %s\n", servers.empty() ? "-" : servers.c_str());
  std::string order;
  for (const auto& id : s.value("client_order", json::array())) {
    order += (order.empty() ? "" : ", ") + id.dump();
  }
  std::printf("client order  %s\n", order.empty() ? "-" : order.c_str());
  std::printf("term          %s\n", OrDash(s.value("term", json())).c_str());
  std::printf("commit index  %s\n", OrDash(s.value("commit_index", json())).c_str());
  std::printf("revision      %s\n", OrDash(s.value("revision", json())).c_str());
  std::printf("cluster id    %s\n", OrDash(s.value("cluster_id", json())).c_str());
  if (s.contains("error")) std::printf("last error    %s\n", s["error"].get<std::string>().c_str());
  if (s.contains("local_server")) {
    std::printf("local server  %s (%s restarts)\n",
                s["local_server"]["state"].get<std::string>().c_str(),
                s["local_server"]["restarts"].dump().c_str());
  }
}

void PrintEvent(const json& e) {
  if (e["type"] == "put") {
    std::printf("put %s = %s (revision %lld)\n", e["key"].get<std::string>().c_str(),
                e["value"].get<std::string>().c_str(), e["revision"].get<long long>());
  } else {
    std::printf("delete %s (revision %lld)\n", e["key"].get<std::string>().c_str(),
                e["revision"].get<long long>());
  }
  std::fflush(stdout);
}

// Subcommand options live as long as the app; a struct keeps them together.
struct RegistryOptions {
  std::string key, value, prefix;
  bool local = false;
  int count = 0;
  long long index = 0;
  int limit = 0;
  int server_id = 0;
  std::string client_address, peer_address;
};
RegistryOptions o;

Result<json> CallApi(const Globals& g, const std::string& method, const std::string& target,
                     const json& body = {}, bool auth = false, int timeout_ms = 10000) {
  return Call{g}.Do(method, target, body, auth, timeout_ms);
}

std::string Consistency() {
  return std::string("&consistency=") + (o.local ? "local" : "linearizable");
}

// `registry status|put|get|del|list`.
void AddKeyValueCommands(CLI::App& reg, const Globals& g, int& rc) {
  reg.add_subcommand("status", "phase (read-only or read-write), leader, servers, term")
      ->callback([&rc, &g] {
        rc = Print(g, CallApi(g, "GET", "/v1/registry/status", {}, false, 10000),
                   PrintRegistryStatus);
      });

  auto* put = reg.add_subcommand("put", "write KEY = VALUE; exits 0 once committed");
  put->add_option("key", o.key, "key")->required();
  put->add_option("value", o.value, "value")->required();
  put->callback([&rc, &g] {
    rc = Print(g,
               CallApi(g, "PUT", "/v1/registry/kv?key=" + UrlEncode(o.key),
                       json{{"value", o.value}}, true),
               [](const json& r) {
                 std::printf("%s committed at revision %lld\n", r["key"].get<std::string>().c_str(),
                             r["revision"].get<long long>());
               });
  });

  auto* get = reg.add_subcommand("get", "read KEY; exits 1 if it is absent");
  get->add_option("key", o.key, "key")->required();
  get->add_flag("--local", o.local,
                "answer from the nearest server's copy (works while read-only; may be behind)");
  get->callback([&rc, &g] {
    rc = Print(g, CallApi(g, "GET", "/v1/registry/kv?key=" + UrlEncode(o.key) + Consistency()),
               [](const json& r) { std::printf("%s\n", r["value"].get<std::string>().c_str()); });
  });

  auto* del = reg.add_subcommand("del", "delete KEY");
  del->add_option("key", o.key, "key")->required();
  del->callback([&rc, &g] {
    rc = Print(g, CallApi(g, "DELETE", "/v1/registry/kv?key=" + UrlEncode(o.key), {}, true),
               [](const json& r) {
                 std::printf("%s: %lld deleted\n", r["key"].get<std::string>().c_str(),
                             r["deleted"].get<long long>());
               });
  });

  auto* list = reg.add_subcommand("list", "the keys under PREFIX, in key order");
  list->add_option("prefix", o.prefix, "key prefix")->required();
  list->add_option("--limit", o.limit, "at most this many (0: all)")->check(CLI::Range(0, 1000000));
  list->add_flag("--local", o.local, "answer from the nearest server's copy");
  list->callback([&rc, &g] {
    rc = Print(g,
               CallApi(g, "GET",
                       "/v1/registry/list?prefix=" + UrlEncode(o.prefix) +
                           "&limit=" + std::to_string(o.limit) + Consistency()),
               [](const json& r) {
                 std::printf("%-40s %-9s %s\n", "KEY", "REVISION", "VALUE");
                 for (const auto& i : r["items"]) {
                   std::printf("%-40s %-9lld %s\n", i["key"].get<std::string>().c_str(),
                               i["revision"].get<long long>(),
                               i["value"].get<std::string>().c_str());
                 }
                 if (r["more"].get<bool>()) std::printf("(more: raise --limit)\n");
               });
  });
}

// `registry server list|define|undefine`.
void AddServerCommands(CLI::App& reg, const Globals& g, int& rc) {
  auto* server = reg.add_subcommand("server", "the registry's servers (C6)");
  server->require_subcommand(1);
  server->add_subcommand("list", "the registry's members")->callback([&rc, &g] {
    rc = Print(g, CallApi(g, "GET", "/v1/registry/servers"), [](const json& r) {
      std::printf("%-6s %-6s %-17s %-8s %-12s %-26s %s\n", "NODE", "NAME", "MEMBER", "ROLE",
                  "HEALTH", "PEER", "CLIENT");
      for (const auto& m : r["servers"]) {
        const std::string role = std::string(m["learner"].get<bool>() ? "learner" : "voter") +
                                 (m.value("leader", false) ? "*" : "");
        std::printf(
            "%-6s %-6s %-17s %-8s %-12s %-26s %s\n", OrDash(m["id"]).c_str(),
            m["name"].get<std::string>().c_str(), m["member_id"].get<std::string>().c_str(),
            role.c_str(), m.value("health", "?").c_str(),
            m["peer_urls"].empty() ? "-" : m["peer_urls"][0].get<std::string>().c_str(),
            m["client_urls"].empty() ? "-" : m["client_urls"][0].get<std::string>().c_str());
      }
    });
  });
  auto* define = server->add_subcommand(
      "define", "make node ID a registry server: added as a learner, promoted once caught up");
  define->add_option("id", o.server_id, "node id")->required()->check(CLI::Range(1, 65535));
  define->add_option("--client", o.client_address, "a.b.c.d:port for its etcd's clients")
      ->required();
  define->add_option("--peer", o.peer_address, "a.b.c.d:port for the other servers")->required();
  define->callback([&rc, &g] {
    rc = Print(
        g,
        CallApi(g, "POST", "/v1/registry/servers",
                json{{"id", o.server_id}, {"client", o.client_address}, {"peer", o.peer_address}},
                true, 120000),
        [](const json& r) { std::printf("%s\n", r["message"].get<std::string>().c_str()); });
  });
  auto* undefine = server->add_subcommand(
      "undefine", "remove node ID from the registry servers (leadership moves away first)");
  undefine->add_option("id", o.server_id, "node id")->required()->check(CLI::Range(1, 65535));
  undefine->callback([&rc, &g] {
    rc = Print(g,
               CallApi(g, "DELETE", "/v1/registry/servers/" + std::to_string(o.server_id), {}, true,
                       60000),
               [](const json& r) { std::printf("%s\n", r["message"].get<std::string>().c_str()); });
  });
  for (const char* verb : {"offline", "online"}) {
    auto* sub = server->add_subcommand(
        verb, std::string(verb) == "offline"
                  ? "stop node ID's registry server, its data and membership kept (refused "
                    "if the registry would lose its majority)"
                  : "start node ID's offline registry server again");
    sub->add_option("id", o.server_id, "node id")->required()->check(CLI::Range(1, 65535));
    sub->callback([&rc, &g, verb] {
      rc = Print(
          g,
          CallApi(g, "POST", "/v1/registry/servers/" + std::to_string(o.server_id) + "/" + verb, {},
                  true, 60000),
          [](const json& r) { std::printf("%s\n", r["message"].get<std::string>().c_str()); });
    });
  }
}

// `registry watch`: long polls, each picking up where the last one ended: no change is
// missed between them, and a node restart in between only delays the next answer.
void AddWatchCommand(CLI::App& reg, const Globals& g, int& rc) {
  auto* watch = reg.add_subcommand("watch", "print changes under PREFIX as they commit");
  watch->add_option("prefix", o.prefix, "key prefix")->required();
  watch->add_option("--count", o.count, "stop after this many changes (0: never)")
      ->check(CLI::Range(0, 100000000));
  watch->add_option("--index", o.index, "start at this revision (0: from now on)")
      ->check(CLI::Range(0LL, 1LL << 62));
  watch->callback([&rc, &g] {
    long long index = o.index;
    int seen = 0;
    // A registry server or the node restarting: the same poll again, for up to 10 s.
    constexpr int kRetries = 50;
    for (int failed = 0;;) {
      auto r = CallApi(g, "GET",
                       "/v1/registry/watch?prefix=" + UrlEncode(o.prefix) +
                           "&index=" + std::to_string(index) + "&timeout_ms=20000",
                       {}, false, 30000);
      if (!r && r.error().code() == Errc::kUnavailable && ++failed <= kRetries) {
        if (failed == 1)
          std::fprintf(stderr, "warning: %s: trying again\n", r.error().message().c_str());
        ::poll(nullptr, 0, 200);
        continue;
      }
      if (!r) {
        rc = Fail(1, r.error().message());
        return;
      }
      failed = 0;
      for (const auto& e : (*r)["events"]) {
        if (g.json) {
          std::printf("%s\n", e.dump().c_str());
          std::fflush(stdout);
        } else {
          PrintEvent(e);
        }
        if (o.count > 0 && ++seen >= o.count) return;
      }
      index = (*r)["index"].get<long long>();
    }
  });
}

}  // namespace

void AddRegistryCommands(CLI::App& app, const Globals& g, int& rc) {
  auto* reg = app.add_subcommand("registry", "the System Registry (replicated configuration)");
  reg->require_subcommand(1);
  AddSnapshotCommands(*reg, g, rc);
  AddKeyValueCommands(*reg, g, rc);
  AddServerCommands(*reg, g, rc);
  AddWatchCommand(*reg, g, rc);
}

}  // namespace cohort::cli
