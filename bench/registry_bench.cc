// Registry latency and throughput, raw etcd versus cohort's layer, on the same members
// (issue 4, bench). Sequential puts, then sequential gets of the keys written, each measured
// three ways in one run, in alternating rounds:
//   raw     etcd's gRPC KV stub, straight to the endpoint (no cohort code);
//   client  cohort's registry client as components use it (PhaseGuard over EtcdRegistry:
//           worker thread, failover, answer posted back);
//   api     the node's HTTP API (PUT/GET /v1/registry/kv), one connection per request as
//           the CLI does.
// Prints one JSON document. Usage:
//   registry_bench --etcd HOST:PORT [--tls DIR] [--api HOST:PORT --token TOKEN] [--ops N]
// --tls: a node's registry/tls folder (ca.pem, node.pem, node.key), for etcd over TLS as
// cohortd runs it; the raw path then pays the same encryption as cohort's client.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "io/http_client.h"
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

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<registry::EtcdTls> TlsFrom(const std::string& dir) {
  if (dir.empty()) return std::nullopt;
  return registry::EtcdTls{ReadAll(dir + "/ca.pem"), ReadAll(dir + "/node.pem"),
                           ReadAll(dir + "/node.key")};
}

int main(int argc, char** argv) {
  std::string etcd, api, token, tls_dir;
  int ops = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--etcd") etcd = argv[i + 1];
    if (a == "--api") api = argv[i + 1];
    if (a == "--token") token = argv[i + 1];
    if (a == "--tls") tls_dir = argv[i + 1];
    if (a == "--ops") ops = std::atoi(argv[i + 1]);
  }
  if (etcd.empty() || ops < 1) {
    std::fprintf(stderr,
                 "usage: registry_bench --etcd HOST:PORT [--tls DIR] [--api HOST:PORT --token T]"
                 " [--ops N]\n");
    return 2;
  }
  const std::string value(100, 'v');
  json out{{"ops", ops}, {"value_bytes", value.size()}, {"etcd", etcd}};

  // The three paths take turns in rounds, so a slow spell of this shared machine hits them
  // alike instead of whichever ran then.
  const std::optional<registry::EtcdTls> tls = TlsFrom(tls_dir);
  auto channel = grpc::CreateChannel(etcd, registry::ChannelCredentials(tls));
  auto kv = etcdserverpb::KV::NewStub(channel);
  registry::EtcdRegistry client(registry::EtcdOptions{{etcd}, Duration::Seconds(2), nullptr, tls});
  registry::PhaseGuard guard(client);
  guard.SetPhase(registry::Phase::kReadWrite);
  std::optional<Endpoint> endpoint;
  if (!api.empty()) {
    auto e = Endpoint::Parse(api);
    if (!e) {
      std::fprintf(stderr, "--api: %s\n", e.error().message().c_str());
      return 2;
    }
    endpoint = *e;
  }
  const std::string body = json{{"value", value}}.dump();
  using Op = std::function<bool(int)>;
  std::map<std::string, Op> ops_by_name = {
      {"raw/put",
       [&](int i) {
         grpc::ClientContext c;
         etcdserverpb::PutRequest req;
         req.set_key(Key("raw", i));
         req.set_value(value);
         etcdserverpb::PutResponse resp;
         return kv->Put(&c, req, &resp).ok();
       }},
      {"raw/get",
       [&](int i) {
         grpc::ClientContext c;
         etcdserverpb::RangeRequest req;
         req.set_key(Key("raw", i));
         etcdserverpb::RangeResponse resp;
         return kv->Range(&c, req, &resp).ok() && resp.kvs_size() == 1;
       }},
      {"client/put",
       [&](int i) {
         return Wait<int64_t>(
                    [&](registry::Done<int64_t> d) { guard.Put(Key("client", i), value, d); })
             .has_value();
       }},
      {"client/get",
       [&](int i) {
         auto r = Wait<std::optional<registry::KeyValue>>(
             [&](registry::Done<std::optional<registry::KeyValue>> d) {
               guard.Get(Key("client", i), false, d);
             });
         return r.has_value() && r->has_value();
       }},
  };
  if (endpoint) {
    ops_by_name["api/put"] = [&](int i) {
      auto r =
          io::HttpCall(*endpoint, "PUT", "/v1/registry/kv?key=" + Key("api", i), body, token, 5000);
      return r.has_value() && r->status == 200;
    };
    ops_by_name["api/get"] = [&](int i) {
      auto r = io::HttpCall(*endpoint, "GET", "/v1/registry/kv?key=" + Key("api", i), "", "", 5000);
      return r.has_value() && r->status == 200;
    };
  }
  constexpr int kRounds = 10;
  std::map<std::string, Figures> figures;
  for (const char* op : {"put", "get"}) {
    for (int round = 0; round < kRounds; ++round) {
      const int first = round * ops / kRounds, last = (round + 1) * ops / kRounds;
      for (const char* path : {"raw", "client", "api"}) {
        const std::string name = std::string(path) + "/" + op;
        auto it = ops_by_name.find(name);
        if (it == ops_by_name.end()) continue;
        Figures f = Measure(last - first, [&](int i) { return it->second(first + i); });
        Figures& all = figures[name];
        all.ms.insert(all.ms.end(), f.ms.begin(), f.ms.end());
        all.seconds += f.seconds;
        all.failures += f.failures;
      }
    }
  }
  for (const auto& [name, f] : figures) {
    const std::string path = name.substr(0, name.find('/'));
    out[path][name.substr(name.find('/') + 1)] = f.ToJson();
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
