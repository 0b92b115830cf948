// `cohort group list|show|join|watch|leave|propose` (INTERFACE.md "Groups"; G1–G3).
// join and watch hold a group session for as long as they run (client/groups_client.h):
// the process is the member, and Ctrl-C leaves. A handler program can cast its votes and
// hear its changes, so shell scripts can be members.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/text.h"
#include "cli/call.h"
#include "cli/group_handler.h"
#include "client/groups_client.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

volatile std::sig_atomic_t g_interrupted = 0;
void OnSignal(int) { g_interrupted = 1; }

std::string Shown(const json& doc, const char* key) {
  if (doc.contains(key)) return "\"" + doc[key].get<std::string>() + "\"";
  const std::string hex = std::string(key) + "_hex";
  if (doc.contains(hex)) return "0x" + doc[hex].get<std::string>();
  return "";
}

void PrintList(const json& doc) {
  std::printf("%-24s %8s %10s %9s %11s %5s  %s\n", "GROUP", "VERSION", "TOKEN", "PROVIDERS",
              "SUBSCRIBERS", "COORD", "STATE");
  for (const json& g : doc["groups"]) {
    if (g.contains("error")) {
      std::printf("%-24s %s\n", g["name"].get<std::string>().c_str(),
                  g["error"].get<std::string>().c_str());
      continue;
    }
    int providers = 0, subscribers = 0;
    for (const json& m : g["members"]) (m["role"] == "provider" ? providers : subscribers)++;
    std::string state = Shown(g, "state");
    if (state.size() > 40) state = state.substr(0, 37) + "...";
    std::printf("%-24s %8llu %10lld %9d %11d %5d  %s\n", g["name"].get<std::string>().c_str(),
                static_cast<unsigned long long>(g["version"].get<uint64_t>()),
                static_cast<long long>(g["token"].get<int64_t>()), providers, subscribers,
                g["coordinator"].get<int>(), state.c_str());
  }
  if (doc["groups"].empty()) std::printf("(no groups)\n");
  if (doc.value("stale", false)) {
    std::printf("(the registry is read-only: this node's server's copy, which may be behind)\n");
  }
}

void PrintGroup(const json& g) {
  if (g.contains("error")) {
    std::printf("%s: %s\n", g["name"].get<std::string>().c_str(),
                g["error"].get<std::string>().c_str());
    return;
  }
  std::printf("group %s: version %llu, token %lld, coordinator node %d\n",
              g["name"].get<std::string>().c_str(),
              static_cast<unsigned long long>(g["version"].get<uint64_t>()),
              static_cast<long long>(g["token"].get<int64_t>()), g["coordinator"].get<int>());
  std::printf("state: %s%s\n", Shown(g, "state").c_str(),
              g.value("stale", false) ? " (the registry is read-only: may be behind)" : "");
  std::printf("default vote: %s; depends on: %s\n", g["default_vote"].get<std::string>().c_str(),
              g["depends"].empty() ? "(none)" : g["depends"].dump().c_str());
  std::printf("%-6s %-16s %-8s %s\n", "NODE", "INCARNATION", "LOCAL", "ROLE");
  for (const json& m : g["members"]) {
    std::printf("%-6d %-16llu %-8u %s\n", m["node"].get<int>(),
                static_cast<unsigned long long>(m["incarnation"].get<uint64_t>()),
                m["local"].get<uint32_t>(), m["role"].get<std::string>().c_str());
  }
  std::printf("latest requests (oldest first):\n");
  for (const json& r : g["recent"]) {
    const json& q = r["request"];
    std::printf(
        "  node %d #%llu: %s\n", q["node"].get<int>(),
        static_cast<unsigned long long>(q["seq"].get<uint64_t>()),
        r["committed"].get<bool>()
            ? ("committed as version " + std::to_string(r["version"].get<uint64_t>())).c_str()
            : ("not committed: " + r["reason"].get<std::string>()).c_str());
  }
}

json ChangeJson(const client::GroupChange& c) {
  json j{{"group", c.group}, {"kind", c.kind}, {"version", c.version}, {"token", c.token}};
  if (!c.for_group.empty()) j["for_group"] = c.for_group;
  if (c.kind == "state" || c.kind == "resync") {
    client::PutValue(j, "value", c.value);
  } else {
    j["member"] = json{
        {"node", c.member.node}, {"incarnation", c.member.incarnation}, {"local", c.member.local}};
  }
  return j;
}

std::string ChangeText(const client::GroupChange& c) {
  std::string where = c.group;
  std::string what =
      c.kind == "state" || c.kind == "resync"
          ? "\"" + EscapeInvalidUtf8(c.value) + "\""
          : "node " + std::to_string(c.member.node) + " member " + std::to_string(c.member.local);
  return where + " v" + std::to_string(c.version) + " " + c.kind + " " + what + " (token " +
         std::to_string(c.token) + ")" +
         (c.for_group.empty() ? "" : " [heard through " + c.for_group + ", which depends on it]");
}

struct JoinFlags {
  bool subscriber = false;
  std::string default_vote = "approve";
  std::vector<std::string> depends;
  std::string handler;
  std::string vote = "approve";
  int count = 0;
  int handler_timeout_ms = 10000;
};

// The handler's environment for one event of `group`.
std::map<std::string, std::string> HandlerEnv(const Globals& g, const client::GroupsClient& c,
                                              const std::string& event) {
  return {{"COHORT_EVENT", event},
          {"COHORT_API", g.api.ToString()},
          {"COHORT_SESSION", std::to_string(c.session())},
          {"COHORT_NODE", std::to_string(c.self().node)}};
}

bool CastVote(const Globals& g, const JoinFlags& f, const client::GroupsClient& c,
              const client::VoteRequest& v) {
  bool approve = f.vote == "approve";
  if (!f.handler.empty()) {
    HandlerRun run{f.handler, HandlerEnv(g, c, "vote"), v.value, f.handler_timeout_ms,
                   &g_interrupted};
    run.env["COHORT_GROUP"] = v.group;
    run.env["COHORT_VERSION"] = std::to_string(v.version);
    run.env["COHORT_PHASE"] = std::to_string(v.phase);
    auto status = RunHandler(run);
    if (!status)
      std::fprintf(stderr, "warning: %s: voting reject\n", status.error().message().c_str());
    approve = status && *status == 0;
  }
  if (g.json) {
    std::printf("%s\n", json{{"group", v.group},
                             {"kind", "vote"},
                             {"version", v.version},
                             {"phase", v.phase},
                             {"approve", approve}}
                            .dump()
                            .c_str());
  } else {
    std::printf("%s vote on v%llu phase %d: %s\n", v.group.c_str(),
                static_cast<unsigned long long>(v.version), v.phase,
                approve ? "approve" : "reject");
  }
  std::fflush(stdout);
  return approve;
}

void Heard(const Globals& g, const JoinFlags& f, const client::GroupsClient& c,
           const client::GroupChange& ch) {
  std::printf("%s\n", g.json ? ChangeJson(ch).dump().c_str() : ChangeText(ch).c_str());
  std::fflush(stdout);
  if (f.handler.empty()) return;
  HandlerRun run{f.handler, HandlerEnv(g, c, "change"), ch.value, f.handler_timeout_ms,
                 &g_interrupted};
  run.env["COHORT_GROUP"] = ch.group;
  run.env["COHORT_FOR_GROUP"] = ch.for_group;
  run.env["COHORT_KIND"] = ch.kind;
  run.env["COHORT_VERSION"] = std::to_string(ch.version);
  run.env["COHORT_TOKEN"] = std::to_string(ch.token);
  if (auto s = RunHandler(run); !s)
    std::fprintf(stderr, "warning: %s\n", s.error().message().c_str());
}

// Joins and serves the membership until interrupted (then leaves) or `count` changes.
int Join(const Globals& g, const std::string& group, const JoinFlags& f) {
  auto token = Call{g}.Token();
  if (!token) return Fail(1, token.error().message());
  client::GroupsClient c({g.api.ToString(), *token});
  int heard = 0;
  c.on_change = [&](const client::GroupChange& ch) {
    Heard(g, f, c, ch);
    if (f.count > 0 && ++heard >= f.count) c.Stop();
  };
  c.on_vote = [&](const client::VoteRequest& v) { return CastVote(g, f, c, v); };
  c.on_reconnect = [] { std::fprintf(stderr, "the daemon came back: joining again\n"); };
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  client::JoinOptions o{!f.subscriber, f.default_vote == "approve", f.depends};
  auto joined = c.Join(group, o);
  if (!joined) return Fail(1, joined.error().message());
  if (!joined->committed) return Fail(1, "join " + group + " not committed: " + joined->reason);
  std::fprintf(stderr, "joined %s as %s at version %llu (session %u); Ctrl-C leaves\n",
               group.c_str(), f.subscriber ? "subscriber" : "provider",
               static_cast<unsigned long long>(joined->version), c.session());
  c.on_lost = [](const std::string& lost, const std::string& why) {
    std::fprintf(stderr, "warning: no longer a member of %s (%s): joining again\n", lost.c_str(),
                 why.c_str());
  };
  while (!g_interrupted && (f.count == 0 || heard < f.count)) {
    if (auto s = c.Run(200); !s) return Fail(1, s.error().message());
  }
  auto left = c.Leave(group);
  if (!left) return Fail(1, left.error().message());
  return 0;
}

// The session given, or else the one in $COHORT_SESSION (a handler's); 0 if neither.
uint32_t SessionOr(uint32_t given) {
  if (given != 0) return given;
  const char* env = std::getenv("COHORT_SESSION");
  if (env == nullptr) return 0;
  const unsigned long n = std::strtoul(env, nullptr, 10);
  return n <= UINT32_MAX ? static_cast<uint32_t>(n) : 0;
}

int Propose(const Globals& g, const std::string& group, const std::string& value, uint32_t session,
            int phases) {
  session = SessionOr(session);
  if (session == 0) {
    return Fail(2,
                "give --session N: the session of a member on this node (`cohort group join` "
                "prints it; a handler gets it as $COHORT_SESSION)");
  }
  json body{{"session", session}, {"phases", phases}, {"wait_ms", 30000}};
  client::PutValue(body, "value", value);
  auto r = Call{g}.Do("POST", "/v1/groups/" + group + "/propose", body, true, 40000);
  if (!r) return Fail(1, r.error().message());
  if (g.json) std::printf("%s\n", r->dump(2).c_str());
  if ((*r).value("outcome", "") == "pending") return Fail(1, "no outcome within 30 s");
  if (!(*r).value("committed", false)) {
    return Fail(1, "not committed: " + (*r).value("reason", std::string("?")));
  }
  if (!g.json) {
    std::printf("committed as version %llu of %s\n",
                static_cast<unsigned long long>((*r)["version"].get<uint64_t>()), group.c_str());
  }
  return 0;
}

int Leave(const Globals& g, const std::string& group, uint32_t session) {
  session = SessionOr(session);
  if (session == 0) return Fail(2, "give --session N: the member's session on this node");
  auto r = Call{g}.Do("POST", "/v1/groups/" + group + "/leave",
                      json{{"session", session}, {"wait_ms", 30000}}, true, 40000);
  if (!r) return Fail(1, r.error().message());
  if (g.json) std::printf("%s\n", r->dump(2).c_str());
  if (!(*r).value("committed", false)) {
    return Fail(1, "not left: " + (*r).value("reason", std::string("no outcome within 30 s")));
  }
  if (!g.json) std::printf("left %s\n", group.c_str());
  return 0;
}

}  // namespace

void AddGroupCommands(CLI::App& app, const Globals& g, int& rc) {
  auto* grp = app.add_subcommand("group", "Group Services: groups of processes (G1-G3)");
  grp->require_subcommand(1);
  const auto group_name = CLI::Validator(
      [](std::string& name) -> std::string {
        return client::ValidGroupName(name) ? "" : "1-128 of A-Z a-z 0-9 . _ -";
      },
      "GROUP");
  static std::string name, value;
  static uint32_t session = 0;
  static int phases = 1;
  static JoinFlags flags;

  grp->add_subcommand("list", "every group: version, members, state")->callback([&g, &rc] {
    rc = Print(g, Call{g}.Do("GET", "/v1/groups"), PrintList);
  });
  auto* show = grp->add_subcommand("show", "one group: members, state, latest requests");
  show->add_option("name", name, "the group")->required()->check(group_name);
  show->callback([&g, &rc] { rc = Print(g, Call{g}.Do("GET", "/v1/groups/" + name), PrintGroup); });

  auto* join = grp->add_subcommand("join", "join as a member until interrupted (Ctrl-C leaves)");
  join->add_option("name", name, "the group (created by the first join)")
      ->required()
      ->check(group_name);
  join->add_flag("--subscriber", flags.subscriber, "hear changes only; do not vote");
  join->add_option("--default-vote", flags.default_vote,
                   "a new group's vote for a provider that does not answer in time")
      ->check(CLI::IsMember({"approve", "reject"}));
  join->add_option("--depends", flags.depends, "a new group hears these groups' changes too");
  join->add_option("--handler", flags.handler,
                   "run for each vote (exit 0 approves) and change; the value on stdin, the rest "
                   "in COHORT_* variables");
  join->add_option("--handler-timeout-ms", flags.handler_timeout_ms, "kill a handler after this")
      ->check(CLI::Range(1, 600000));
  join->add_option("--vote", flags.vote, "without --handler: the vote cast on every proposal")
      ->check(CLI::IsMember({"approve", "reject"}));
  join->add_option("--count", flags.count, "leave after hearing this many changes (0: never)")
      ->check(CLI::Range(0, 100000000));
  join->callback([&g, &rc] { rc = Join(g, name, flags); });

  auto* watch = grp->add_subcommand("watch", "print a group's changes (joins as a subscriber)");
  watch->add_option("name", name, "the group (created by the first join)")
      ->required()
      ->check(group_name);
  watch->add_option("--depends", flags.depends, "a new group hears these groups' changes too");
  watch->add_option("--count", flags.count, "stop after this many changes (0: never)")
      ->check(CLI::Range(0, 100000000));
  watch->callback([&g, &rc] {
    flags.subscriber = true;
    rc = Join(g, name, flags);
  });

  auto* leave = grp->add_subcommand("leave", "a member on this node leaves");
  leave->add_option("name", name, "the group")->required()->check(group_name);
  leave->add_option("--session", session, "the member's session (default $COHORT_SESSION)");
  leave->callback([&g, &rc] { rc = Leave(g, name, session); });

  auto* propose = grp->add_subcommand("propose", "propose a new state; prints the outcome");
  propose->add_option("name", name, "the group")->required()->check(group_name);
  propose->add_option("value", value, "the new state")->required();
  propose->add_option("--session", session,
                      "the proposing provider's session on this node (default $COHORT_SESSION)");
  propose->add_option("--phases", phases, "voting rounds, each a barrier (1-8)")
      ->check(CLI::Range(1, 8));
  propose->callback([&g, &rc] { rc = Propose(g, name, value, session, phases); });
}

}  // namespace cohort::cli
