// Catalog lookup and session placement at scale (issue 23 target: a lookup <= 1 ms at
// 1,000 nodes x 100,000 titles). Fills StreamsSim's catalog (every title on 3 or more of
// 1,000 nodes), places 100,000 sessions, then times single operations on that loaded table:
// a catalog lookup of a random title (every copy with its state), and a placement (lookup,
// rendezvous order, bound, reservation). Prints the median, p99 and maximum of each.
// Run: build/release/bin/streams_place_bench [nodes] [samples]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "sim/streams_sim.h"

namespace {

using Clock = std::chrono::steady_clock;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void Print(const char* what, std::vector<double> us) {
  std::sort(us.begin(), us.end());
  const auto at = [&](double q) { return us[static_cast<size_t>(q * (us.size() - 1))]; };
  std::printf("%-32s median %8.2f us   p99 %8.2f us   max %8.2f us   (%zu samples)\n", what,
              at(0.5), at(0.99), us.back(), us.size());
}

}  // namespace

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int samples = argc > 2 ? std::atoi(argv[2]) : 10000;
  if (nodes < 2 || nodes > 65535 || samples < 1 || samples > 1'000'000) {
    std::fprintf(stderr, "usage: streams_place_bench [nodes 2..65535] [samples 1..1000000]\n");
    return 2;
  }
  cohort::sim::StreamsSimOptions o;
  o.nodes = nodes;
  const auto fill_start = Clock::now();
  cohort::sim::StreamsSim sim(o);
  const double fill_s = Micros(Clock::now() - fill_start) / 1e6;
  const auto place_start = Clock::now();
  sim.Arrive(100 * nodes);
  const double place_s = Micros(Clock::now() - place_start) / 1e6;
  std::printf(
      "%d nodes, %zu titles, %zu copies: catalog filled in %.2f s; %zu sessions placed "
      "in %.2f s\n",
      nodes, sim.catalog().paths(), sim.catalog().copies(), fill_s, sim.table().sessions().size(),
      place_s);

  std::vector<double> lookup, place;
  const size_t titles = sim.catalog().paths();
  uint64_t seen = 0;
  for (int i = 0; i < samples; ++i) {
    const std::string path =
        "titles/" + std::to_string((static_cast<uint64_t>(i) * 7919) % titles) + ".mp4";
    const auto t0 = Clock::now();
    seen += sim.catalog().Lookup(path).size();
    lookup.push_back(Micros(Clock::now() - t0));
    const auto t1 = Clock::now();
    sim.Arrive(1);
    place.push_back(Micros(Clock::now() - t1));
  }
  Print("catalog lookup", lookup);
  Print("placement (lookup + place)", place);
  std::printf("(%llu copies looked at)\n", static_cast<unsigned long long>(seen));
  return 0;
}
