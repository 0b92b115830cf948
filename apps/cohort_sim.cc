// cohort-sim: runs a named simulator scenario (or every one) and prints a summary.
// The same --scenario, --nodes and --seed always print the same trace digest.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "sim/hierarchy_scenarios.h"
#include "sim/hierarchy_sim.h"
#include "sim/scenarios.h"

int main(int argc, char** argv) {
  CLI::App app{"cohort-sim: deterministic simulation of cohort's protocol cores"};
  std::string scenario = "converge";
  int nodes = 10;
  uint64_t seed = 1;
  int seeds = 1;
  bool json = false, list = false;
  std::string shape_text;
  app.add_option("--scenario", scenario, "scenario to run, or 'all'");
  app.add_option("--nodes", nodes, "number of simulated nodes")->check(CLI::Range(2, 10000));
  app.add_option("--seed", seed, "first seed; a run replays exactly from its seed");
  app.add_option("--seeds", seeds, "how many consecutive seeds to run")
      ->check(CLI::Range(1, 100000));
  app.add_option("--shape", shape_text,
                 "hierarchy scenarios: clusters per level, top first, the last the daemons per "
                 "leaf cluster (e.g. 22x22x21)");
  app.add_flag("--json", json, "one JSON document on stdout");
  app.add_flag("--list", list, "list the scenarios");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
    return 2;
  }
  const auto& all = cohort::sim::Scenarios();
  if (list) {
    for (const auto& [name, what] : all) std::printf("%-10s %s\n", name.c_str(), what.c_str());
    return 0;
  }
  std::vector<std::string> names;
  if (scenario == "all") {
    for (const auto& [name, what] : all) names.push_back(name);
  } else if (all.count(scenario)) {
    names.push_back(scenario);
  } else {
    std::fprintf(stderr, "error: unknown scenario '%s' (see --list)\n", scenario.c_str());
    return 2;
  }
  std::vector<int> shape;
  if (!shape_text.empty()) {
    auto parsed = cohort::sim::ParseShape(shape_text);
    if (!parsed) {
      std::fprintf(stderr,
                   "error: --shape '%s' is not 2 to 4 numbers of 2..255 joined by 'x', at most "
                   "60000 daemons in all\n",
                   shape_text.c_str());
      return 2;
    }
    shape = *parsed;
    std::erase_if(names, [](const std::string& n) { return !cohort::sim::IsHierarchyScenario(n); });
    if (names.empty()) {
      std::fprintf(stderr, "error: --shape applies to the hierarchy scenarios only (h*)\n");
      return 2;
    }
    nodes = 1;
    for (int n : shape) nodes *= n;
  }
  nlohmann::json runs = nlohmann::json::array();
  int failed = 0;
  // Progress on stderr every 5 s of wall time for long runs: the run under way and the
  // count done. The simulator itself reads no clock; only this thread does.
  std::atomic<int> done{0};
  std::atomic<const std::string*> current_name{nullptr};
  std::atomic<uint64_t> current_seed{seed};
  std::mutex mu;
  std::condition_variable_any cv;
  std::jthread progress([&](std::stop_token stop) {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, stop, std::chrono::seconds(5), [] { return false; })) {
      if (stop.stop_requested()) return;
      const std::string* name = current_name.load();
      const auto secs =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start)
              .count();
      std::fprintf(stderr,
                   "cohort-sim: %lld s: running %s nodes=%d seed=%llu, %d of %d runs done\n",
                   static_cast<long long>(secs), name ? name->c_str() : "?", nodes,
                   static_cast<unsigned long long>(current_seed.load()), done.load(),
                   static_cast<int>(names.size()) * seeds);
    }
  });
  for (const auto& name : names) {
    for (int k = 0; k < seeds; ++k) {
      current_name = &name;
      current_seed = seed + static_cast<uint64_t>(k);
      const uint64_t run_seed = seed + static_cast<uint64_t>(k);
      const auto r = shape.empty() ? cohort::sim::RunScenario(name, nodes, run_seed)
                                   : cohort::sim::RunHierarchyShape(name, shape, run_seed);
      ++done;
      failed += !r.passed;
      char digest[17];
      std::snprintf(digest, sizeof digest, "%016llx",
                    static_cast<unsigned long long>(r.trace_digest));
      if (json) {
        runs.push_back({{"scenario", r.scenario},
                        {"nodes", r.nodes},
                        {"seed", r.seed},
                        {"passed", r.passed},
                        {"failures", r.failures},
                        {"figures", r.figures},
                        {"trace_digest", digest},
                        {"delivered", r.delivered},
                        {"dropped", r.dropped}});
        continue;
      }
      std::printf("%-9s nodes=%d seed=%llu %s trace=%s delivered=%llu dropped=%llu\n",
                  r.scenario.c_str(), r.nodes, static_cast<unsigned long long>(r.seed),
                  r.passed ? "PASS" : "FAIL", digest, static_cast<unsigned long long>(r.delivered),
                  static_cast<unsigned long long>(r.dropped));
      for (const auto& [fig, v] : r.figures) std::printf("    %-20s %.3f\n", fig.c_str(), v);
      for (const auto& f : r.failures) std::printf("    FAILED: %s\n", f.c_str());
    }
  }
  if (json) {
    std::printf("%s\n", nlohmann::json{{"runs", runs}, {"failed", failed}}.dump(2).c_str());
  } else {
    std::printf("%d passed, %d failed\n", static_cast<int>(names.size()) * seeds - failed, failed);
  }
  return failed == 0 ? 0 : 1;
}
