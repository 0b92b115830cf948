// `cohort resource list|show|create|delete|start|stop|move|clear|action|explain|watch|
// classes|rescan` (INTERFACE.md "Resources"; RM1, RM2, C9): the resource manager's client. Every
// command takes
// --json; watch prints one JSON line per change with --json.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/call.h"
#include "cli/progress.h"
#include "io/clock.h"
#include "io/http_client.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

std::string Fails(const json& r) {
  std::string out;
  for (const auto& [node, count] : r["fail_counts"].items()) {
    out += (out.empty() ? "" : ",") + node + ":" + Text(count);
  }
  return out.empty() ? "-" : out;
}

// "running" or, for a promoted resource, "promoted".
std::string StateWithRole(const json& r) {
  const std::string state = Text(r["state"]);
  const bool promoted = r.contains("role") && r["role"].is_string() && r["role"] == "promoted";
  return promoted && state == "running" ? "promoted" : state;
}

void PrintList(const json& doc) {
  std::printf("%-20s %-7s %-22s %-7s %4s %-10s %-8s %s\n", "RESOURCE", "CLASS", "AGENT", "TARGET",
              "NODE", "STATE", "FAILS", "LAST ERROR");
  for (const json& r : doc["resources"]) {
    std::string agent = Text(r["agent"]);
    if (agent.size() > 22) agent = agent.substr(0, 19) + "...";
    std::printf("%-20s %-7s %-22s %-7s %4s %-10s %-8s %s\n", Text(r["name"]).c_str(),
                Text(r["class"]).c_str(), agent.c_str(), Text(r["target"]).c_str(),
                Text(r["node"]).c_str(), StateWithRole(r).c_str(), Fails(r).c_str(),
                Text(r["error"]).c_str());
  }
  if (doc["resources"].empty()) std::printf("(no resources)\n");
  if (!doc.value("synced", true)) std::printf("(this node has not read the registry yet)\n");
}

// The built-in classes' resources (C9), one line each.
void PrintInventory(const json& doc) {
  std::printf("%-8s %5s %-36s %-9s %s\n", "CLASS", "NODE", "NAME", "STATE", "ATTRIBUTES");
  for (const json& r : doc["resources"]) {
    std::string attributes;
    for (const auto& [key, value] : r["attributes"].items()) {
      if (key == "path" || key == "address" || key == "id") continue;  // the name already
      attributes += (attributes.empty() ? "" : " ") + key + "=" + Text(value);
    }
    std::string state = Text(r["state"]);
    if (r.contains("missing_since_ms")) {
      const int64_t ago_s =
          (static_cast<int64_t>(io::WallMillis()) - r["missing_since_ms"].get<int64_t>()) / 1000;
      state += " (" + std::to_string(std::max<int64_t>(0, ago_s)) + " s)";
    }
    std::printf("%-8s %5s %-36s %-9s %s\n", Text(r["class"]).c_str(), Text(r["node"]).c_str(),
                Text(r["name"]).c_str(), state.c_str(), attributes.c_str());
  }
  if (doc["resources"].empty()) std::printf("(nothing discovered yet)\n");
  for (const auto& [node, n] : doc["nodes"].items()) {
    if (n.value("content_truncated", false)) {
      std::printf("(node %s holds more content than its inventory lists)\n", node.c_str());
    }
  }
}

void PrintClasses(const json& doc) {
  for (const json& c : doc["classes"]) {
    std::printf("%s%s — %s\n", Text(c["name"]).c_str(),
                c["builtin"].get<bool>() ? " (built-in)" : "", Text(c["description"]).c_str());
    for (const json& a : c["attributes"]) {
      std::printf("  %-14s %-8s %s\n", Text(a["name"]).c_str(), Text(a["type"]).c_str(),
                  Text(a["description"]).c_str());
    }
    std::string actions;
    for (const json& a : c["actions"]) actions += (actions.empty() ? "" : ", ") + Text(a);
    std::printf("  actions: %s\n", actions.c_str());
  }
}

void PrintOne(const json& r) {
  std::printf("resource  %s (%s %s)\n", Text(r["name"]).c_str(), Text(r["class"]).c_str(),
              Text(r["agent"]).c_str());
  std::printf("target    %s\n", Text(r["target"]).c_str());
  std::printf("runs on   %s (%s)\n", Text(r["node"]).c_str(), StateWithRole(r).c_str());
  std::printf("placed    %s: %s\n", Text(r["placed"]).c_str(), Text(r["placed_reason"]).c_str());
  if (!r["moved_to"].is_null()) std::printf("moved to  %s\n", Text(r["moved_to"]).c_str());
  std::printf("fails     %s\n", Fails(r).c_str());
  for (const auto& [node, s] : r["nodes"].items()) {
    std::printf("node %-4s %s%s%s\n", node.c_str(), StateWithRole(s).c_str(),
                s["error"].get<std::string>().empty() ? "" : ": ", Text(s["error"]).c_str());
  }
  std::printf("definition %s\n", r["definition"].dump().c_str());
}

void PrintExplain(const json& e) {
  std::printf("%s: %s\n", Text(e["resource"]).c_str(), Text(e["reason"]).c_str());
  for (const json& s : e["scores"]) {
    if (s["eligible"].get<bool>()) {
      std::printf("  node %-4s score %-9s %s\n", Text(s["node"]).c_str(), Text(s["score"]).c_str(),
                  Text(s["why"]).c_str());
    } else {
      std::printf("  node %-4s excluded: %s\n", Text(s["node"]).c_str(), Text(s["why"]).c_str());
    }
  }
}

struct CreateFlags {
  std::string file, cls = "ocf", agent;
  std::vector<std::string> params, prefer, disks, with, after, content;
  std::vector<int> allowed;
  int needs_mbps = 0;
  int monitor_ms = 0, start_timeout_ms = 0, stop_timeout_ms = 0, monitor_timeout_ms = 0;
  int migration_threshold = -1;
  bool stopped = false;
  bool promotable = false;
};

// The definition from the flags (or the file); the daemon checks it.
Result<std::string> Definition(const std::string& name, const CreateFlags& f) {
  if (!f.file.empty()) {
    std::ifstream in(f.file);
    if (!in) return Error(Errc::kNotFound, "cannot read " + f.file);
    std::stringstream text;
    text << in.rdbuf();
    json doc = json::parse(text.str(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Error(Errc::kInvalidArgument, f.file + " is not a JSON object");
    }
    doc["name"] = name;
    return doc.dump();
  }
  if (f.agent.empty()) return Error(Errc::kInvalidArgument, "--agent (or --file) is needed");
  json doc = {{"name", name}, {"class", f.cls}, {"agent", f.agent}};
  json params = json::object();
  for (const std::string& p : f.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos) return Error(Errc::kInvalidArgument, "--param takes NAME=VALUE");
    params[p.substr(0, eq)] = p.substr(eq + 1);
  }
  doc["params"] = params;
  if (!f.allowed.empty()) doc["allowed"] = f.allowed;
  json prefer = json::object();
  for (const std::string& p : f.prefer) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos) return Error(Errc::kInvalidArgument, "--prefer takes NODE=SCORE");
    try {
      prefer[p.substr(0, eq)] = std::stoi(p.substr(eq + 1));
    } catch (const std::exception&) {
      return Error(Errc::kInvalidArgument, "--prefer takes NODE=SCORE, a whole score");
    }
  }
  if (!prefer.empty()) doc["prefer"] = prefer;
  if (!f.disks.empty()) doc["disks"] = f.disks;
  if (!f.with.empty()) doc["with"] = f.with;
  if (!f.after.empty()) doc["after"] = f.after;
  if (!f.content.empty()) doc["content"] = f.content;
  if (f.needs_mbps > 0) doc["needs_mbps"] = f.needs_mbps;
  if (f.promotable) doc["promotable"] = true;
  if (f.monitor_ms > 0) doc["monitor_interval_ms"] = f.monitor_ms;
  json timeouts = json::object();
  if (f.start_timeout_ms > 0) timeouts["start"] = f.start_timeout_ms;
  if (f.stop_timeout_ms > 0) timeouts["stop"] = f.stop_timeout_ms;
  if (f.monitor_timeout_ms > 0) timeouts["monitor"] = f.monitor_timeout_ms;
  if (!timeouts.empty()) doc["timeouts_ms"] = timeouts;
  if (f.migration_threshold >= 0) doc["migration_threshold"] = f.migration_threshold;
  if (f.stopped) doc["target"] = "stopped";
  return doc.dump();
}

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int Watch(const Globals& g, int count) {
  Call call(g);
  auto token = call.Token();
  if (!token) return Fail(1, token.error().message());
  auto stream =
      io::HttpLineStream::Open(g.api, "GET", "/v1/resources/watch", "", *token, 10000, g.node);
  if (!stream) return Fail(1, stream.error().message());
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  int seen = 0;
  while (!g_stop && (count == 0 || seen < count)) {
    auto line = (*stream)->NextLine(200);
    if (!line) return Fail(1, line.error().message());
    if (!*line) continue;
    json e = json::parse(**line, nullptr, false);
    if (e.is_discarded()) continue;
    ++seen;
    if (g.json) {
      std::printf("%s\n", e.dump().c_str());
    } else if (e.value("type", "") == "removed") {
      std::printf("%s removed\n", Text(e["name"]).c_str());
    } else if (e.value("type", "") == "configuration_changed") {
      std::string what;
      for (const char* k : {"added", "missing", "changed"}) {
        if (e[k].empty()) continue;
        what += std::string(what.empty() ? "" : "; ") + k + ": ";
        for (size_t i = 0; i < e[k].size(); ++i) what += (i ? ", " : "") + Text(e[k][i]);
      }
      if (e.value("joined", false)) {
        std::printf("node %s joined: %s\n", Text(e["node"]).c_str(),
                    what.empty() ? "its configuration unchanged" : what.c_str());
      } else {
        std::printf("node %s configuration changed: %s\n", Text(e["node"]).c_str(), what.c_str());
      }
    } else {
      std::printf("%s %s on %s%s%s\n", Text(e["name"]).c_str(), Text(e["state"]).c_str(),
                  Text(e["node"]).c_str(), e["error"].get<std::string>().empty() ? "" : " — ",
                  Text(e["error"]).c_str());
    }
    std::fflush(stdout);
  }
  return 0;
}

// "created web", "web: target stopped", ...: the answer's fields in a line.
void PrintDone(const json& doc) {
  std::string line;
  for (const auto& [key, value] : doc.items()) {
    if (key == "resource") continue;
    line += (line.empty() ? "" : ", ") + key + " " + Text(value);
  }
  if (doc.contains("resource")) line = Text(doc["resource"]) + ": " + line;
  std::printf("%s\n", line.c_str());
}

// Polls the resource until it runs on `node`, with a progress line; its document then,
// with "elapsed_ms". A blocked resource or the timeout ends the wait with an error.
Result<json> AwaitRunning(const Globals& g, const std::string& resource, int node,
                          double timeout_s) {
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress(g);
  for (int attempt = 0; attempt < 1'000'000; ++attempt) {
    auto doc = Call{g}.Do("GET", "/v1/resources/" + resource);
    if (!doc) {  // the move is asked: a node busy for a moment does not end the wait
      if (static_cast<double>(MillisSince(t0)) > timeout_s * 1000) return doc;
      progress.Say("moving " + resource + ": " + doc.error().message());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (doc->value("target", "") == "stopped") {  // it moves, but will not run
      (*doc)["elapsed_ms"] = static_cast<double>(MillisSince(t0));
      return doc;
    }
    const std::string state = doc->value("state", "");
    const json owner = doc->value("node", json());
    if (owner == node && state == "running") {
      (*doc)["elapsed_ms"] = static_cast<double>(MillisSince(t0));
      return doc;
    }
    if (state == "blocked") {
      return Error(Errc::kUnavailable, resource + " is blocked: its stop failed (" +
                                           doc->value("error", std::string()) +
                                           "); see `cohort resource show " + resource + "`");
    }
    progress.Say("moving " + resource + " to node " + std::to_string(node) + ": " + state +
                 (owner.is_null() ? "" : " on node " + owner.dump()));
    if (static_cast<double>(MillisSince(t0)) > timeout_s * 1000) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Error(Errc::kTimeout, resource + " does not run on node " + std::to_string(node) +
                                   " after " + std::to_string(static_cast<int>(timeout_s)) +
                                   " s; `cohort resource explain " + resource + "` says why");
}

}  // namespace

void AddResourceCommands(CLI::App& app, const Globals& g, int& rc) {
  auto* res = app.add_subcommand("resource", "the resource manager: services kept running (RM)");
  res->require_subcommand(1);
  static std::string name, action;
  static int node = 0, timeout_ms = 20000, count = 0;
  static CreateFlags f;
  auto named = [](CLI::App* c) { c->add_option("name", name, "the resource")->required(); };

  static std::string cls;
  static int on_node = 0;
  auto* list = res->add_subcommand(
      "list", "every resource: where it runs and its state (--class: the built-in ones)");
  auto* class_option =
      list->add_option("--class", cls, "node, adapter, disk or content: the nodes' own resources")
          ->check(CLI::IsMember({"node", "adapter", "disk", "content"}));
  list->add_option("--node", on_node, "with --class: only this node's")
      ->check(CLI::Range(1, 65535))
      ->needs(class_option);
  list->callback([&g, &rc] {
    if (cls.empty()) {
      rc = Print(g, Call{g}.Do("GET", "/v1/resources"), PrintList);
      return;
    }
    std::string target = "/v1/inventory?class=" + cls;
    if (on_node != 0) target += "&node=" + std::to_string(on_node);
    rc = Print(g, Call{g}.Do("GET", target), PrintInventory);
  });
  res->add_subcommand("classes", "every resource class: attributes with types, actions")
      ->callback(
          [&g, &rc] { rc = Print(g, Call{g}.Do("GET", "/v1/resource-classes"), PrintClasses); });
  res->add_subcommand("rescan", "this node discovers its adapters, disks and content again")
      ->callback([&g, &rc] {
        rc = Print(g, Call{g}.Do("POST", "/v1/inventory/rescan", json::object(), true), PrintDone);
      });
  auto* show = res->add_subcommand("show", "one resource, with each node's report");
  named(show);
  show->callback(
      [&g, &rc] { rc = Print(g, Call{g}.Do("GET", "/v1/resources/" + name), PrintOne); });
  auto* explain = res->add_subcommand("explain", "where it would run now and why, node by node");
  named(explain);
  explain->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("GET", "/v1/resources/" + name + "/explain"), PrintExplain);
  });

  auto* create = res->add_subcommand("create", "define a resource");
  named(create);
  create->add_option("--file", f.file, "the definition as JSON (see docs/design/resources.md)");
  create->add_option("--class", f.cls, "ocf (an OCF agent) or process (a command)")
      ->check(CLI::IsMember({"ocf", "process"}));
  create->add_option("--agent", f.agent, "ocf: PROVIDER:TYPE (heartbeat:Dummy); process: command");
  create->add_option("--param", f.params, "an agent parameter, NAME=VALUE (repeat)");
  create->add_option("--allowed", f.allowed, "only these nodes (repeat)");
  create->add_option("--prefer", f.prefer, "NODE=SCORE: a preference (repeat)");
  create->add_option("--disk", f.disks, "a disk the node must have healthy (repeat)");
  create->add_option("--with", f.with, "run on the same node as this resource (repeat)");
  create->add_option("--after", f.after, "start only once this resource runs (repeat)");
  create->add_option("--content", f.content, "content the node must hold, a path (repeat)");
  create->add_option("--needs-mbps", f.needs_mbps, "streaming capacity it takes on its node")
      ->check(CLI::Range(1, 100000000));
  create->add_flag("--promotable", f.promotable,
                   "promote it once started, demote it before it stops (an OCF agent that "
                   "offers promote and demote, e.g. heartbeat:Stateful)");
  create->add_option("--monitor-ms", f.monitor_ms, "monitor interval")
      ->check(CLI::Range(100, 86400000));
  create->add_option("--start-timeout-ms", f.start_timeout_ms, "")->check(CLI::Range(100, 3600000));
  create->add_option("--stop-timeout-ms", f.stop_timeout_ms, "")->check(CLI::Range(100, 3600000));
  create->add_option("--monitor-timeout-ms", f.monitor_timeout_ms, "")
      ->check(CLI::Range(100, 3600000));
  create
      ->add_option("--migration-threshold", f.migration_threshold,
                   "failures on a node before it moves away (0: never)")
      ->check(CLI::Range(0, 1000000));
  create->add_flag("--stopped", f.stopped, "define it without starting it");
  create->callback([&g, &rc] {
    auto def = Definition(name, f);
    if (!def) {
      rc = Fail(2, def.error().message());
      return;
    }
    rc = Print(g, Call{g}.Send("POST", "/v1/resources", *def, true), PrintDone);
  });

  for (const char* verb : {"start", "stop", "clear"}) {
    auto* c = res->add_subcommand(
        verb, std::string(verb) == "clear" ? "drop a move, reset fail counts, unblock"
                                           : std::string(verb) + " the resource (its target role)");
    named(c);
    c->callback([&g, &rc, verb] {
      rc = Print(g, Call{g}.Do("POST", "/v1/resources/" + name + "/" + verb, json::object(), true),
                 PrintDone);
    });
  }
  auto* del = res->add_subcommand("delete", "stop it and forget it");
  named(del);
  del->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("DELETE", "/v1/resources/" + name, {}, true), PrintDone);
  });
  static bool no_wait = false;
  static double move_timeout_s = 60;
  auto* move = res->add_subcommand(
      "move", "run it on NODE (until `clear`); waits, showing progress, until it runs there");
  named(move);
  move->add_option("node", node, "the node")->required()->check(CLI::Range(1, 65535));
  move->add_flag("--no-wait", no_wait, "return once the move is asked");
  move->add_option("--timeout", move_timeout_s, "give up waiting after this many seconds")
      ->check(CLI::Range(1.0, 3600.0));
  move->callback([&g, &rc] {
    auto asked = Call{g}.Do("POST", "/v1/resources/" + name + "/move", {{"node", node}}, true);
    if (!asked || no_wait) {
      rc = Print(g, asked, PrintDone);
      return;
    }
    rc = Print(g, AwaitRunning(g, name, node, move_timeout_s), [](const json& d) {
      if (d.value("target", "") == "stopped") {
        std::printf("%s will run on node %d once started (its target is stopped)\n",
                    Text(d["name"]).c_str(), node);
        return;
      }
      std::printf("%s runs on node %s (%.2f s)\n", Text(d["name"]).c_str(), Text(d["node"]).c_str(),
                  d["elapsed_ms"].get<double>() / 1000);
    });
  });
  auto* act =
      res->add_subcommand("action", "run an agent action on this node (monitor, meta-data, ...)");
  named(act);
  act->add_option("action", action, "the action")->required();
  act->add_option("--timeout-ms", timeout_ms, "")->check(CLI::Range(100, 600000));
  act->callback([&g, &rc] {
    auto r = Call{g}.Do("POST", "/v1/resources/" + name + "/action",
                        {{"action", action}, {"timeout_ms", timeout_ms}}, true, timeout_ms + 5000);
    rc = Print(g, r, [](const json& d) {
      std::string where = "on node " + Text(d["node"]);
      if (d["runs_on"] != d["node"]) {
        where += d["runs_on"].is_null() ? " (it runs nowhere)"
                                        : " (it runs on node " + Text(d["runs_on"]) + ")";
      }
      std::printf("%s %s: %s (exit %d)%s\n%s", Text(d["action"]).c_str(), where.c_str(),
                  Text(d["code"]).c_str(), d["exit_code"].get<int>(),
                  d["timed_out"].get<bool>() ? ", timed out" : "", Text(d["output"]).c_str());
    });
    if (rc == 0 && r && (*r)["exit_code"].get<int>() != 0) rc = 1;
  });
  auto* watch = res->add_subcommand("watch", "print each resource, then each change, as it comes");
  watch->add_option("--count", count, "stop after this many lines (0: never)")
      ->check(CLI::Range(0, 100000000));
  watch->callback([&g, &rc] { rc = Watch(g, count); });
}

}  // namespace cohort::cli
