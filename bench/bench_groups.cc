// The Group Services core's own cost: one transition (a proposal, one round of votes from
// every provider, the record written, the commit delivered to every member) among N
// providers on N nodes, with the wire and the registry answering at once in one process —
// encoding, decoding and every core's work, nothing else. Its inverse is the ceiling the
// core puts on a group's transitions per second, before the network and etcd.
#include <benchmark/benchmark.h>

#include "groups/harness.h"

namespace {

using cohort::groups::Role;
using cohort::groups::harness::Harness;

void Transition(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  const int phases = static_cast<int>(state.range(1));
  Harness h(nodes);
  for (int n = 1; n <= nodes; ++n) h.Join(static_cast<cohort::NodeId>(n), 1, Role::kProvider);
  uint64_t k = 0;
  for (auto _ : state) {
    h.Propose(2, 1, "value-" + std::to_string(++k), static_cast<uint8_t>(phases));
    for (int p = 0; p < phases; ++p) h.VoteAll(true);
    h.told.clear();
  }
  if (h.Stored().state.empty()) state.SkipWithError("nothing committed");
  state.counters["transitions/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(Transition)->Args({5, 1})->Args({5, 3})->Args({16, 1});

}  // namespace
