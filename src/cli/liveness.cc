// `cohort liveness [--watch]` (INTERFACE.md; L1): every network's adapters and the matrix of
// paths between them as this node knows it, or the changes as they happen.
#include <cstdio>
#include <ctime>
#include <string>

#include "cli/call.h"

namespace cohort::cli {
namespace {

using nlohmann::json;

const char* Mark(const json& state) {
  if (state.is_null()) return "·";
  const std::string s = state.get<std::string>();
  return s == "up" ? "+" : s == "down" ? "x" : "?";
}

void PrintNetwork(const json& net) {
  const auto& adapters = net["adapters"];
  const auto& paths = net["paths"];
  size_t up = 0, paths_up = 0, paths_down = 0, paths_unknown = 0;
  for (const auto& a : adapters) up += a["state"] == "up";
  for (const auto& row : paths) {
    for (const auto& p : row) {
      if (p.is_null()) continue;
      paths_up += p == "up";
      paths_down += p == "down";
      paths_unknown += p == "unknown";
    }
  }
  std::printf("network %s: %zu adapters (%zu up), %zu paths (%zu up, %zu down, %zu unknown)\n",
              net["name"].get<std::string>().c_str(), adapters.size(), up,
              paths_up + paths_down + paths_unknown, paths_up, paths_down, paths_unknown);
  std::printf("  %3s %5s  %-21s %-8s", "#", "NODE", "ADAPTER", "STATE");
  for (size_t j = 0; j < adapters.size(); ++j) std::printf("%3zu", j + 1);
  std::printf("\n");
  for (size_t i = 0; i < adapters.size(); ++i) {
    const auto& a = adapters[i];
    std::printf("  %3zu %5d  %-21s %-8s", i + 1, a["node"].get<int>(),
                a["address"].get<std::string>().c_str(), a["state"].get<std::string>().c_str());
    for (const auto& p : paths[i]) std::printf("  %s", Mark(p));
    std::printf("\n");
  }
}

void PrintLiveness(const json& d) {
  for (const auto& net : d["networks"]) PrintNetwork(net);
  std::printf("rows send, columns receive: + up, x down, ? unknown (not yet due), · same node\n");
}

void PrintChange(const json& c) {
  const uint64_t ms = c["time_ms"].get<uint64_t>();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  if (c["type"] == "path") {
    std::printf("%s.%03u path %s (node %d) -> %s (node %d) on %s: %s\n", clock,
                static_cast<unsigned>(ms % 1000), c["from"].get<std::string>().c_str(),
                c["from_node"].get<int>(), c["to"].get<std::string>().c_str(),
                c["to_node"].get<int>(), c["network"].get<std::string>().c_str(),
                c["state"].get<std::string>().c_str());
  } else {
    std::printf("%s.%03u adapter %s (node %d) on %s: %s\n", clock, static_cast<unsigned>(ms % 1000),
                c["address"].get<std::string>().c_str(), c["node"].get<int>(),
                c["network"].get<std::string>().c_str(), c["state"].get<std::string>().c_str());
  }
  std::fflush(stdout);
}

// Long polls for the changes after the matrix read first, each poll going on from the last.
int Watch(const Globals& g, int count, int64_t after) {
  Call call{g};
  uint64_t seq = static_cast<uint64_t>(after);
  if (after < 0) {
    auto doc = call.Do("GET", "/v1/liveness");
    if (!doc) return Fail(1, doc.error().message());
    seq = (*doc)["seq"].get<uint64_t>();
  }
  int seen = 0;
  for (;;) {
    auto r =
        call.Do("GET", "/v1/liveness/changes?after=" + std::to_string(seq) + "&timeout_ms=20000",
                {}, false, 30000);
    if (!r) return Fail(1, r.error().message());
    if ((*r)["missed"].get<bool>()) {
      std::fprintf(stderr, "warning: changes were missed (more than the node keeps)\n");
    }
    for (const auto& c : (*r)["changes"]) {
      if (g.json) {
        std::printf("%s\n", c.dump().c_str());
        std::fflush(stdout);
      } else {
        PrintChange(c);
      }
      if (count > 0 && ++seen >= count) return 0;
    }
    seq = (*r)["seq"].get<uint64_t>();
  }
}

}  // namespace

void AddLivenessCommands(CLI::App& app, const Globals& g, int& rc) {
  static bool watch = false;
  static int count = 0;
  static int64_t after = -1;
  auto* cmd = app.add_subcommand("liveness",
                                 "every adapter's state and the path matrix of each network (L1)");
  cmd->add_flag("--watch", watch, "print path and adapter changes as they happen");
  cmd->add_option("--count", count, "with --watch: stop after this many changes (0: never)")
      ->check(CLI::Range(0, 100000000));
  cmd->add_option("--after", after,
                  "with --watch: the changes numbered after this one (the document's \"seq\"; "
                  "default: from now on)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  cmd->callback([&g, &rc] {
    rc =
        watch ? Watch(g, count, after) : Print(g, Call{g}.Do("GET", "/v1/liveness"), PrintLiveness);
  });
}

}  // namespace cohort::cli
