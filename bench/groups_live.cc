// Group Services on real daemons: one provider per daemon (GroupsClient, approving every
// proposal), then
//   latency:    one proposer, transitions one after another: p50/p99 from Propose's call
//               to its committed outcome (two-phase: every provider votes, etcd records);
//   throughput: every provider proposes at once, `--seconds` long: transitions/s.
// Run by bench/groups_bench.py, which starts the cluster. Prints one JSON line per figure.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "client/groups_client.h"

namespace {

using Clock = std::chrono::steady_clock;
using cohort::client::GroupsClient;

std::string ReadToken(const std::string& path) {
  std::ifstream f(path);
  std::string t;
  std::getline(f, t);
  return t;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int Usage() {
  std::fprintf(stderr,
               "usage: groups_live_bench GROUP TRANSITIONS SECONDS API=TOKEN_FILE...\n"
               "  one provider per API; TRANSITIONS one by one, then all propose for SECONDS\n");
  return 2;
}

// Every client but the first serves its votes on a thread of its own until `done`.
std::vector<std::thread> ServeVotes(std::vector<std::unique_ptr<GroupsClient>>& clients,
                                    std::atomic<bool>& done) {
  std::vector<std::thread> voters;
  for (size_t i = 1; i < clients.size(); ++i) {
    voters.emplace_back([&done, c = clients[i].get()] {
      while (!done) {
        if (!c->Run(100)) return;
      }
    });
  }
  return voters;
}

// One proposer, transitions one after another: milliseconds from call to outcome.
bool Latency(std::vector<std::unique_ptr<GroupsClient>>& clients, const std::string& group,
             int transitions) {
  std::atomic<bool> done{false};
  std::vector<std::thread> voters = ServeVotes(clients, done);
  std::vector<double> ms;
  bool ok = true;
  for (int i = 0; i < transitions && ok; ++i) {
    const auto t0 = Clock::now();
    auto r = clients[0]->Propose(group, "v" + std::to_string(i));
    ok = r && r->committed;
    if (!ok) {
      std::fprintf(stderr, "error: propose: %s\n",
                   r ? r->reason.c_str() : r.error().message().c_str());
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  done = true;
  for (auto& t : voters) t.join();
  if (!ok) return false;
  std::printf("%s\n", nlohmann::json{{"figure", "latency"},
                                     {"providers", clients.size()},
                                     {"transitions", transitions},
                                     {"p50_ms", Percentile(ms, 0.5)},
                                     {"p99_ms", Percentile(ms, 0.99)},
                                     {"max_ms", Percentile(ms, 1.0)}}
                          .dump()
                          .c_str());
  return true;
}

// Every client proposes as fast as its outcomes come back, for `seconds`.
void Throughput(std::vector<std::unique_ptr<GroupsClient>>& clients, const std::string& group,
                int seconds) {
  std::atomic<uint64_t> committed{0}, failed{0};
  std::atomic<bool> done{false};
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> proposers;
  for (size_t i = 0; i < clients.size(); ++i) {
    proposers.emplace_back([&, i] {
      for (int n = 0; Clock::now() < end; ++n) {
        auto r = clients[i]->Propose(group, "p" + std::to_string(i) + "-" + std::to_string(n));
        (r && r->committed ? committed : failed)++;
        if (!r) return;
      }
      while (!done) {  // the others' votes, until they are done too
        if (!clients[i]->Run(50)) return;
      }
    });
  }
  std::this_thread::sleep_until(end + std::chrono::seconds(2));
  done = true;
  for (auto& t : proposers) t.join();
  std::printf("%s\n",
              nlohmann::json{{"figure", "throughput"},
                             {"providers", clients.size()},
                             {"seconds", seconds},
                             {"committed", committed.load()},
                             {"failed", failed.load()},
                             {"per_second", static_cast<double>(committed.load()) / seconds}}
                  .dump()
                  .c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return Usage();
  const std::string group = argv[1];
  const int transitions = std::atoi(argv[2]);
  const int seconds = std::atoi(argv[3]);
  if (transitions < 1 || seconds < 1) return Usage();
  std::vector<std::unique_ptr<GroupsClient>> clients;
  for (int i = 4; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) return Usage();
    GroupsClient::Options o;
    o.api = arg.substr(0, eq);
    o.token = ReadToken(arg.substr(eq + 1));
    o.reconnect_ms = 0;
    clients.push_back(std::make_unique<GroupsClient>(o));
  }
  for (auto& c : clients) {
    auto joined = c->Join(group);
    if (!joined || !joined->committed) {
      std::fprintf(stderr, "error: join: %s\n",
                   joined ? joined->reason.c_str() : joined.error().message().c_str());
      return 1;
    }
  }
  if (!Latency(clients, group, transitions)) return 1;
  Throughput(clients, group, seconds);
  return 0;
}
