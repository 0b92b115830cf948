// The registry's schema writers under a deterministic simulation (issue 4): the in-memory
// registry model, several supervisors that come and go, transactions delivered late or
// answered with a lost acknowledgement, and read-only windows. Each seed replays exactly; a
// failure names the seed.
#include <gtest/gtest.h>

#include <deque>

#include "base/prng.h"
#include "base/test_seeds.h"
#include "dcm/schema.h"
#include "registry/memory.h"

namespace cohort::dcm::schema {
namespace {

using registry::MemoryRegistry;
using registry::TxnResult;

nlohmann::json Stored(MemoryRegistry& r, const std::string& key) {
  nlohmann::json doc;
  r.Get(key, true, [&](Result<std::optional<registry::KeyValue>> kv) {
    if (kv && *kv) doc = nlohmann::json::parse((**kv).value);
  });
  return doc;
}

// One run: returns "" or what went wrong.
std::string MapRun(uint64_t seed) {
  Prng prng(seed);
  MemoryRegistry r;
  r.SetLeader(1);
  const std::string key = MapKey("sim");
  struct Supervisor {
    VersionedPublisher publisher;
    uint64_t version = 0;
    bool active = false;
  };
  std::vector<Supervisor> nodes;
  for (int i = 0; i < 3; ++i) nodes.push_back({VersionedPublisher(key), 0, false});
  nodes[0].active = true;
  nodes[0].version = 1;
  uint64_t highest = 1;  // the newest version any supervisor made
  struct InFlight {
    size_t node;
    registry::Txn txn;
  };
  std::deque<InFlight> in_flight;
  uint64_t stored_before = 0;
  bool read_only = false;
  for (int step = 0; step < 400; ++step) {
    const bool quiet = step >= 300;  // the end: no more faults or takeovers
    const uint64_t roll = prng.Below(100);
    if (!quiet && roll < 5) {
      // Takeover: another node becomes supervisor with a newer map; the old one may not
      // know yet and keeps its stale version.
      const size_t next = prng.Below(nodes.size());
      nodes[next].active = true;
      nodes[next].version = ++highest;
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (i != next && prng.Chance(0.5)) nodes[i].active = false;
      }
    } else if (!quiet && roll < 8) {
      read_only = !read_only;  // read-only windows
      r.SetLeader(read_only ? kNoNode : 1);
    } else if (roll < 30) {
      for (auto& n : nodes) {
        if (n.active && n.version == highest && prng.Chance(0.5)) n.version = ++highest;
      }
    }
    if (quiet) r.SetLeader(1);
    // Each active supervisor asks to publish; its transaction travels a while.
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (!nodes[i].active) continue;
      const std::string doc =
          Document({{"version", nodes[i].version}, {"supervisor", static_cast<int>(i)}});
      if (auto txn = nodes[i].publisher.Next(nodes[i].version, doc)) {
        in_flight.push_back({i, *txn});
      }
    }
    // Deliver some, in any order; an acknowledgement may be lost after the commit.
    while (!in_flight.empty() && (quiet || prng.Chance(0.6))) {
      const size_t at = prng.Below(in_flight.size());
      InFlight f = in_flight[at];
      in_flight.erase(in_flight.begin() + static_cast<long>(at));
      Result<TxnResult> answer = Error(Errc::kUnavailable, "lost");
      r.Commit(f.txn, [&](Result<TxnResult> res) { answer = std::move(res); });
      if (!quiet && prng.Chance(0.1)) answer = Error(Errc::kUnavailable, "ack lost");
      nodes[f.node].publisher.OnResult(answer);
    }
    const nlohmann::json stored = Stored(r, key);
    const uint64_t now = stored.is_null() ? 0 : stored["version"].get<uint64_t>();
    if (now < stored_before) {
      return "step " + std::to_string(step) + ": the stored map went back from version " +
             std::to_string(stored_before) + " to " + std::to_string(now);
    }
    stored_before = now;
  }
  // Quiet at the end: the newest version an active supervisor holds is stored.
  uint64_t newest_active = 0;
  for (auto& n : nodes) {
    if (n.active) newest_active = std::max(newest_active, n.version);
  }
  if (stored_before < newest_active) {
    return "after the faults stopped the registry holds version " + std::to_string(stored_before) +
           ", not the supervisor's " + std::to_string(newest_active);
  }
  return "";
}

TEST(RegistrySimTest, TheStoredMapNeverGoesBackAndTheNewestOneLands) {
  for (uint64_t seed = 1; seed <= TestSeeds(200); ++seed) {
    const std::string failure = MapRun(seed);
    ASSERT_EQ(failure, "") << "seed " << seed;
  }
}

TEST(RegistrySimTest, ConcurrentDefinitionsOfOneClusterAgreeOnOneId) {
  for (uint64_t seed = 1; seed <= TestSeeds(100); ++seed) {
    Prng prng(seed);
    MemoryRegistry r;
    r.SetLeader(1);
    std::vector<std::string> adopted;
    std::vector<size_t> order = {0, 1, 2, 3, 4};
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[prng.Below(i)]);
    for (size_t node : order) {
      const std::string fresh = "id" + std::to_string(node);
      r.Commit(DefineCluster("media", fresh), [&](Result<TxnResult> res) {
        ASSERT_TRUE(res);
        auto id = ClusterIdOf(*res, fresh);
        ASSERT_TRUE(id);
        adopted.push_back(*id);
      });
    }
    ASSERT_EQ(adopted.size(), 5u);
    for (const auto& id : adopted) EXPECT_EQ(id, "id" + std::to_string(order[0])) << seed;
  }
}

}  // namespace
}  // namespace cohort::dcm::schema
