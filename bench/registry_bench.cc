// Registry latency and throughput, raw etcd versus cohort's layer, on the same members
// (issue 4, bench). Sequential puts, then sequential gets of the keys written, each measured
// three ways in one run:
//   raw     etcd's gRPC KV stub, straight to the endpoint (no cohort code);
//   client  cohort's registry client as components use it (PhaseGuard over EtcdRegistry:
//           worker thread, failover, answer posted back);
//   api     the node's HTTP API (PUT/GET /v1/registry/kv), one connection per request as
//           the CLI does.
// Prints one JSON document. Usage:
//   registry_bench --etcd HOST:PORT [--api HOST:PORT --token TOKEN] [--ops N]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/http_client.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "registry/etcd.h"
#include "registry/guard.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using namespace cohort;

struct Figures {
  std::vector<double> ms;
  double seconds = 0;
  int failures = 0;
  json ToJson() const {
    std::vector<double> s = ms;
    std::sort(s.begin(), s.end());
    auto pct = [&](double p) {
      return s.empty() ? 0.0 : s[std::min(s.size() - 1, static_cast<size_t>(p * s.size()))];
    };
    return {{"ops", ms.size()},
            {"failures", failures},
            {"ops_per_s", seconds > 0 ? static_cast<double>(ms.size()) / seconds : 0},
            {"p50_ms", pct(0.50)},
            {"p99_ms", pct(0.99)}};
  }
};

template <typename Op>
Figures Measure(int ops, const Op& op) {
  Figures f;
  const auto start = Clock::now();
  for (int i = 0; i < ops; ++i) {
    const auto t0 = Clock::now();
    if (!op(i)) ++f.failures;
    f.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return f;
}

// Waits for a callback answered on another thread.
template <typename T>
Result<T> Wait(const std::function<void(registry::Done<T>)>& call) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<T>> got;
  call([&](Result<T> r) {
    std::lock_guard lock(mu);
    got = std::move(r);
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return got.has_value(); });
  return std::move(*got);
}

std::string Key(const std::string& run, int i) {
  char k[64];
  std::snprintf(k, sizeof k, "/bench/%s/%06d", run.c_str(), i);
  return k;
}

}  // namespace

int main(int argc, char** argv) {
  std::string etcd, api, token;
  int ops = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--etcd") etcd = argv[i + 1];
    if (a == "--api") api = argv[i + 1];
    if (a == "--token") token = argv[i + 1];
    if (a == "--ops") ops = std::atoi(argv[i + 1]);
  }
  if (etcd.empty() || ops < 1) {
    std::fprintf(stderr,
                 "usage: registry_bench --etcd HOST:PORT [--api HOST:PORT --token T]"
                 " [--ops N]\n");
    return 2;
  }
  const std::string value(100, 'v');
  json out{{"ops", ops}, {"value_bytes", value.size()}, {"etcd", etcd}};

  // raw
  auto channel = grpc::CreateChannel(etcd, grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(channel);
  auto raw_put = Measure(ops, [&](int i) {
    grpc::ClientContext c;
    etcdserverpb::PutRequest req;
    req.set_key(Key("raw", i));
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    return kv->Put(&c, req, &resp).ok();
  });
  auto raw_get = Measure(ops, [&](int i) {
    grpc::ClientContext c;
    etcdserverpb::RangeRequest req;
    req.set_key(Key("raw", i));
    etcdserverpb::RangeResponse resp;
    return kv->Range(&c, req, &resp).ok() && resp.kvs_size() == 1;
  });

  // client
  registry::EtcdRegistry client(registry::EtcdOptions{{etcd}, Duration::Seconds(2), nullptr});
  registry::PhaseGuard guard(client);
  guard.SetPhase(registry::Phase::kReadWrite);
  auto client_put = Measure(ops, [&](int i) {
    return Wait<int64_t>([&](registry::Done<int64_t> d) { guard.Put(Key("client", i), value, d); })
        .has_value();
  });
  auto client_get = Measure(ops, [&](int i) {
    auto r = Wait<std::optional<registry::KeyValue>>(
        [&](registry::Done<std::optional<registry::KeyValue>> d) {
          guard.Get(Key("client", i), false, d);
        });
    return r.has_value() && r->has_value();
  });
  out["raw"] = {{"put", raw_put.ToJson()}, {"get", raw_get.ToJson()}};
  out["client"] = {{"put", client_put.ToJson()}, {"get", client_get.ToJson()}};

  if (!api.empty()) {
    auto endpoint = Endpoint::Parse(api);
    if (!endpoint) {
      std::fprintf(stderr, "--api: %s\n", endpoint.error().message().c_str());
      return 2;
    }
    const std::string body = json{{"value", value}}.dump();
    auto api_put = Measure(ops, [&](int i) {
      auto r = cli::HttpCall(*endpoint, "PUT", "/v1/registry/kv?key=" + Key("api", i), body, token,
                             5000);
      return r.has_value() && r->status == 200;
    });
    auto api_get = Measure(ops, [&](int i) {
      auto r =
          cli::HttpCall(*endpoint, "GET", "/v1/registry/kv?key=" + Key("api", i), "", "", 5000);
      return r.has_value() && r->status == 200;
    });
    out["api"] = {{"put", api_put.ToJson()}, {"get", api_get.ToJson()}};
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
