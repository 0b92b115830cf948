// Seal/open and codec throughput (issue: foundation, target: seal + open of 1 KB <= 2 us).
// The seal benchmarks' last argument is the cipher: 0 XChaCha20-Poly1305, 1 AES-256-GCM
// (what a node with AES-NI seals with).
// Run: build/release/bin/bench_wire --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include "transport/fragment.h"
#include "transport/messages.h"
#include "wire/seal.h"

namespace {

using namespace cohort;

wire::Keyring Ring(int64_t cipher) {
  wire::Keyring r(static_cast<wire::Cipher>(cipher));
  r.Install(wire::GenerateKey());
  return r;
}

void BM_SealOpen(benchmark::State& state) {
  const wire::Keyring ring = Ring(state.range(1));
  state.SetLabel(wire::CipherName(ring.seal_cipher()));
  const wire::Bytes payload(static_cast<size_t>(state.range(0)), 0x42);
  uint64_t seq = 1;
  for (auto _ : state) {
    const wire::Bytes d = wire::Seal(ring, {0, 1, 7, seq++}, payload);
    auto opened = wire::Open(ring, d);
    benchmark::DoNotOptimize(opened);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_SealOpen)->ArgsProduct({{64, 1024, 1400}, {0, 1}});

void BM_Seal(benchmark::State& state) {
  const wire::Keyring ring = Ring(state.range(0));
  state.SetLabel(wire::CipherName(ring.seal_cipher()));
  const wire::Bytes payload(1024, 0x42);
  uint64_t seq = 1;
  for (auto _ : state) benchmark::DoNotOptimize(wire::Seal(ring, {0, 1, 7, seq++}, payload));
}
BENCHMARK(BM_Seal)->Arg(0)->Arg(1);

transport::NodeEntry Entry(NodeId id) {
  transport::NodeEntry e{id, 1000, 1, {}};
  for (uint32_t a = 0; a < 2; ++a) {
    e.addresses.push_back({Endpoint{0x0a000000u + (a << 16) + id, 7000}, 0xffffff00, 1500,
                           transport::AdapterType::kEthernet, transport::Cos::kControl});
  }
  return e;
}

// Encoding and decoding the table exchange reply for N nodes.
void BM_TableCodec(benchmark::State& state) {
  transport::TableSyncReplyMsg m;
  for (NodeId id = 1; id <= state.range(0); ++id) {
    m.entries.push_back(Entry(id));
    m.summary.push_back({id, 1000, 1});
  }
  size_t bytes = 0;
  for (auto _ : state) {
    const auto encoded = transport::Encode(m);
    bytes += encoded.size();
    benchmark::DoNotOptimize(transport::Decode(encoded));
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_TableCodec)->Arg(10)->Arg(100)->Arg(1000);

void BM_EchoCodec(benchmark::State& state) {
  const transport::EchoMsg m{42, wire::Bytes(1024, 1)};
  for (auto _ : state) benchmark::DoNotOptimize(transport::Decode(transport::Encode(m)));
}
BENCHMARK(BM_EchoCodec);

}  // namespace
