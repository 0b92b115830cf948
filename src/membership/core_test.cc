// MembershipCore driven by hand with explicit time; multi-node behaviour at scale lives in
// the simulator scenarios (tests/sim).
#include "membership/core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>

namespace cohort::membership {
namespace {

// Delivers every message instantly in FIFO order; `down` nodes neither send nor receive.
class Bus {
 public:
  explicit Bus(int n, std::vector<std::string> disks = {}, bool with_priority = true) {
    for (int k = 1; k <= n; ++k) {
      MembershipOptions o;
      o.self = static_cast<NodeId>(k);
      o.incarnation = 100;
      o.disks = disks;
      for (int p = 1; with_priority && p <= n; ++p) o.priority.push_back(static_cast<NodeId>(p));
      cores.emplace_back(std::make_unique<MembershipCore>(o, k));
    }
  }
  MembershipCore& at(NodeId id) { return *cores[id - 1]; }
  void Take(NodeId from, Outputs& out) {
    for (auto& o : out) {
      if (auto* s = std::get_if<SendTo>(&o)) q.push_back({from, s->to, s->bytes});
      if (auto* b = std::get_if<Broadcast>(&o)) {
        for (size_t k = 1; k <= cores.size(); ++k) {
          if (k != from) q.push_back({from, static_cast<NodeId>(k), b->bytes});
        }
      }
      if (auto* e = std::get_if<MembershipEvent>(&o)) events.push_back(*e);
      if (auto* u = std::get_if<UsageReply>(&o)) usage.push_back(*u);
    }
    out.clear();
  }
  void Check(NodeId id, const std::string& disk, bool ok) {
    Outputs out;
    at(id).OnDiskCheck(now, disk, ok, out);
    Take(id, out);
    Pump();
  }
  size_t Count(MembershipEvent::Kind kind) const {
    return static_cast<size_t>(
        std::count_if(events.begin(), events.end(), [&](const auto& e) { return e.kind == kind; }));
  }
  void Pump() {
    for (int guard = 0; !q.empty() && guard < 100000; ++guard) {
      auto [from, to, bytes] = q.front();
      q.pop_front();
      if (down.count(from) || down.count(to)) continue;
      if (drop && drop(bytes)) continue;
      Outputs out;
      at(to).OnMessage(now, from, bytes, out);
      Take(to, out);
    }
  }
  void Start() {
    for (size_t k = 1; k <= cores.size(); ++k) {
      Outputs out;
      at(static_cast<NodeId>(k)).Start(now, out);
      Take(static_cast<NodeId>(k), out);
    }
  }
  void Advance(Duration d) {
    const Instant end = now + d;
    for (int guard = 0;; ++guard) {
      if (guard > 1000000) {
        ADD_FAILURE() << "timers do not advance";
        return;
      }
      Instant next = Instant::Max();
      for (size_t k = 1; k <= cores.size(); ++k) {
        if (!down.count(static_cast<NodeId>(k)))
          next = std::min(next, cores[k - 1]->NextDeadline());
      }
      if (next > end) break;
      now = std::max(now, next);
      for (size_t k = 1; k <= cores.size(); ++k) {
        const NodeId id = static_cast<NodeId>(k);
        if (down.count(id) || at(id).NextDeadline() > now) continue;
        Outputs out;
        at(id).Tick(now, out);
        Take(id, out);
      }
      Pump();
    }
    now = end;
  }
  Instant now = Instant::FromNanos(1'000'000'000);
  std::set<NodeId> down;
  std::function<bool(const Bytes&)> drop;
  std::vector<std::unique_ptr<MembershipCore>> cores;
  std::vector<MembershipEvent> events;
  std::vector<UsageReply> usage;
  std::deque<std::tuple<NodeId, NodeId, Bytes>> q;
};

TEST(MembershipCoreTest, FormsUnderTheTopPriority) {
  Bus bus(4);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  for (NodeId id = 1; id <= 4; ++id) {
    EXPECT_EQ(bus.at(id).supervisor(), 1) << id;
    EXPECT_EQ(bus.at(id).map().Ring(), (std::vector<NodeId>{1, 2, 3, 4})) << id;
    EXPECT_EQ(bus.at(id).map().version, bus.at(1).map().version);
  }
  EXPECT_EQ(bus.at(1).role(), Role::kSupervisor);
  EXPECT_EQ(bus.at(3).role(), Role::kMember);
}

// Found by the distribution bench: configs without a priority list must still agree.
TEST(MembershipCoreTest, WithoutAPriorityListTheLowestIdSupervises) {
  Bus bus(3, {}, /*with_priority=*/false);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_EQ(bus.at(id).supervisor(), 1) << id;
    EXPECT_EQ(bus.at(id).map().Ring(), (std::vector<NodeId>{1, 2, 3})) << id;
  }
}

// Found by the simulator (mlossy, 16 nodes, seeds 1, 6, 17, 60 at 5% loss): a declaration
// went out once, and when both copies (to the supervisor, round the ring) were lost the
// crashed node stayed up in the map for ever. Now the watch goes on and declares it again.
TEST(MembershipCoreTest, LostDeclarationIsRepeated) {
  Bus bus(4);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  bool lose = true;
  bus.drop = [&](const Bytes& b) {
    auto m = Decode(b);
    if (!lose || !m) return false;
    const auto* ring = std::get_if<RingMsg>(&*m);
    return std::holds_alternative<DeclareMsg>(*m) || (ring && !ring->declarations.empty());
  };
  bus.down.insert(3);
  bus.Advance(Duration::Millis(600));  // declared by node 4, every copy lost
  EXPECT_EQ(bus.at(4).metrics().declarations_sent, 1u);
  EXPECT_TRUE(bus.at(1).map().IsUp(3));
  lose = false;
  bus.Advance(Duration::Millis(500));  // K more silent periods and probes: declared again
  EXPECT_EQ(bus.at(1).map().Find(3)->state, MemberState::kFailed);
  EXPECT_EQ(bus.at(4).metrics().declarations_sent, 1u);  // one failure, counted once
}

TEST(MembershipCoreTest, SilentMemberIsDeclaredByItsSuccessor) {
  Bus bus(4);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  bus.down.insert(3);
  bus.Advance(Duration::Millis(300));  // K periods: probes only, no declaration yet
  EXPECT_TRUE(bus.at(1).map().IsUp(3));
  bus.Advance(Duration::Millis(300));
  EXPECT_EQ(bus.at(1).map().Find(3)->state, MemberState::kFailed);
  EXPECT_EQ(bus.at(4).metrics().declarations_sent, 1u);  // 4 follows 3 in the ring
  EXPECT_EQ(bus.at(2).map().Ring(), (std::vector<NodeId>{1, 2, 4}));
  // It comes back (alive all along, say): it sees itself failed and rejoins at once.
  bus.down.clear();
  bus.Advance(Duration::Millis(500));
  EXPECT_TRUE(bus.at(1).map().IsUp(3));
  EXPECT_EQ(bus.at(3).role(), Role::kMember);
}

TEST(MembershipCoreTest, NextByPriorityTakesOverAndOldSupervisorPreemptsOnReturn) {
  Bus bus(3);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  const uint64_t version = bus.at(2).map().version;
  bus.down.insert(1);
  bus.Advance(Duration::Seconds(1));
  EXPECT_EQ(bus.at(2).role(), Role::kSupervisor);
  EXPECT_EQ(bus.at(3).supervisor(), 2);
  EXPECT_EQ(bus.at(3).map().Find(1)->state, MemberState::kFailed);
  EXPECT_GT(bus.at(3).map().version, version);
  bus.down.clear();  // node 1 returns with the same incarnation: it preempts
  bus.Advance(Duration::Seconds(1));
  EXPECT_EQ(bus.at(1).role(), Role::kSupervisor);
  EXPECT_EQ(bus.at(2).role(), Role::kMember);
  EXPECT_EQ(bus.at(3).supervisor(), 1);
  EXPECT_TRUE(bus.at(3).map().IsUp(2));
}

// The supervisor's process is replaced (a successor taking a sub-cluster's node over, or a
// restart) before the members notice its silence: told by the transport, they send the new
// process their map and it supervises at once, from their map, with nobody marked failed.
TEST(MembershipCoreTest, ANewIncarnationOfTheSupervisorTakesOverFromTheMembersMap) {
  Bus bus(3, {"d1"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  bus.Check(1, "d1", false);  // the old process's path state must not outlive it
  bus.Advance(Duration::Millis(100));
  const uint64_t version = bus.at(3).map().version;
  MembershipOptions o = bus.at(1).options();
  o.incarnation = 200;
  bus.cores[0] = std::make_unique<MembershipCore>(o, 9);
  Outputs out;
  bus.at(1).Start(bus.now, out);
  bus.Take(1, out);
  bus.Advance(Duration::Millis(10));
  EXPECT_EQ(bus.at(1).role(), Role::kListening);
  bus.at(2).OnPeerRestarted(bus.now, 2, 200, out);  // not its supervisor: nothing
  bus.at(3).OnPeerRestarted(bus.now, 1, 100, out);  // not newer: nothing
  EXPECT_TRUE(out.empty());
  bus.at(2).OnPeerRestarted(bus.now, 1, 200, out);
  bus.Take(2, out);
  bus.Pump();
  EXPECT_EQ(bus.at(1).role(), Role::kSupervisor);
  EXPECT_EQ(bus.at(1).metrics().takeovers_from_earlier_self, 1u);
  bus.Advance(Duration::Millis(50));  // well inside one notification time (300 ms)
  for (NodeId id = 1; id <= 3; ++id) {
    const ClusterMap& map = bus.at(id).map();
    EXPECT_EQ(bus.at(id).supervisor(), 1) << id;
    EXPECT_GT(map.version, version) << id;
    EXPECT_EQ(map.Ring(), (std::vector<NodeId>{1, 2, 3})) << id;
    EXPECT_EQ(map.Find(1)->incarnation, 200u) << id;
    EXPECT_EQ(map.disks.at("d1").paths.at(1).state, PathState::kOk) << id;
  }
  EXPECT_EQ(bus.at(2).role(), Role::kMember);
  EXPECT_EQ(bus.Count(MembershipEvent::Kind::kFailureDeclared), 0u);
}

// Members that missed the old process's last map hand the new one an older map than others
// do: whichever comes first, the new process continues from the newest it is handed, so a
// change the old process published last (here a leave) is not undone.
TEST(MembershipCoreTest, ANewIncarnationOfTheSupervisorContinuesFromTheNewestMapHandedIt) {
  Bus bus(4);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  const ClusterMap before_leave = bus.at(2).map();
  bus.down.insert(2);  // node 2 misses the map without node 4
  Outputs out;
  bus.at(4).Leave(bus.now, out);
  bus.Take(4, out);
  bus.Advance(Duration::Millis(50));
  ASSERT_EQ(bus.at(3).map().Find(4)->state, MemberState::kLeft);
  ASSERT_EQ(bus.at(2).map(), before_leave);
  MembershipOptions o = bus.at(1).options();
  o.incarnation = 200;
  bus.cores[0] = std::make_unique<MembershipCore>(o, 9);
  bus.at(1).Start(bus.now, out);
  bus.Take(1, out);
  bus.down = {4};
  bus.at(2).OnPeerRestarted(bus.now, 1, 200, out);  // the older map arrives first
  bus.Take(2, out);
  bus.Pump();
  bus.at(3).OnPeerRestarted(bus.now, 1, 200, out);
  bus.Take(3, out);
  bus.Pump();
  bus.Advance(Duration::Millis(50));
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_EQ(bus.at(id).supervisor(), 1) << id;
    EXPECT_EQ(bus.at(id).map().Find(4)->state, MemberState::kLeft) << id;
    EXPECT_EQ(bus.at(id).map().Find(1)->incarnation, 200u) << id;
  }
  EXPECT_EQ(bus.at(1).metrics().takeovers_from_earlier_self, 2u);
}

TEST(MembershipCoreTest, LeaveIsRepeatedUntilUnlisted) {
  Bus bus(3);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  Outputs out;
  bus.at(3).Leave(bus.now, out);
  bus.Take(3, out);
  bus.Pump();
  bus.Advance(Duration::Millis(50));
  EXPECT_EQ(bus.at(3).role(), Role::kLeft);
  EXPECT_EQ(bus.at(2).map().Find(3)->state, MemberState::kLeft);
  // The supervisor leaves: node 2 takes over without waiting for a timeout.
  bus.at(1).Leave(bus.now, out);
  bus.Take(1, out);
  bus.Pump();
  bus.Advance(Duration::Millis(50));
  EXPECT_EQ(bus.at(1).role(), Role::kLeft);
  EXPECT_EQ(bus.at(2).role(), Role::kSupervisor);
}

DiskState DiskStateAt(MembershipCore& core, const std::string& disk) {
  auto it = core.map().disks.find(disk);
  if (it == core.map().disks.end()) {
    ADD_FAILURE() << "no disk " << disk << " in node " << core.self() << "'s map";
    return DiskState::kOk;
  }
  return core.map().StateOf(it->second);
}

PathState PathAt(MembershipCore& core, const std::string& disk, NodeId node) {
  return core.map().disks.at(disk).paths.at(node).state;
}

TEST(MembershipDiskTest, JoinCarriesTheDiskAccessList) {
  Bus bus(3, {"d1", "d2"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  for (NodeId id = 1; id <= 3; ++id) {
    ASSERT_EQ(bus.at(id).map().disks.size(), 2u) << id;
    EXPECT_EQ(bus.at(id).map().disks.at("d2").paths.size(), 3u) << id;
    EXPECT_EQ(DiskStateAt(bus.at(id), "d1"), DiskState::kOk);
  }
}

TEST(MembershipDiskTest, OneNodeAloneMarksOnlyItsPath) {
  Bus bus(4, {"d1"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  bus.Check(3, "d1", false);
  bus.Advance(Duration::Millis(50));
  for (NodeId id = 1; id <= 4; ++id) {
    EXPECT_EQ(PathAt(bus.at(id), "d1", 3), PathState::kFailed) << id;
    EXPECT_EQ(PathAt(bus.at(id), "d1", 2), PathState::kOk) << id;
    EXPECT_EQ(DiskStateAt(bus.at(id), "d1"), DiskState::kDegraded) << id;
  }
  EXPECT_EQ(bus.Count(MembershipEvent::Kind::kDiskPathFailed), 1u);
  EXPECT_EQ(bus.Count(MembershipEvent::Kind::kDiskFailed), 0u);
  bus.Check(3, "d1", true);
  bus.Advance(Duration::Millis(50));
  EXPECT_EQ(DiskStateAt(bus.at(4), "d1"), DiskState::kOk);
}

TEST(MembershipDiskTest, ReportsFromSeveralNodesDeclareTheDiskFailed) {
  Bus bus(4, {"d1"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  bus.Check(4, "d1", false);
  bus.Check(1, "d1", false);  // the supervisor's own check counts as one node's report
  bus.Advance(Duration::Millis(50));
  for (NodeId id = 1; id <= 4; ++id) {
    EXPECT_EQ(DiskStateAt(bus.at(id), "d1"), DiskState::kFailed) << id;
  }
  EXPECT_EQ(bus.at(1).metrics().disk_failures_declared, 1u);
  EXPECT_EQ(bus.at(1).metrics().disk_path_failures, 2u);
  // One node reaching the disk again is proof it works: the declaration is lifted, and the
  // path that still fails keeps the disk degraded.
  bus.Check(4, "d1", true);
  bus.Advance(Duration::Millis(50));
  EXPECT_EQ(DiskStateAt(bus.at(3), "d1"), DiskState::kDegraded);
  EXPECT_EQ(bus.Count(MembershipEvent::Kind::kDiskRestored), 1u);
}

TEST(MembershipDiskTest, LostReportsAreSentAgainUntilPublished) {
  Bus bus(4, {"d1"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  bool dropping = true;
  bus.drop = [&](const Bytes& b) {
    auto m = Decode(b);
    if (!dropping || !m) return false;
    if (std::holds_alternative<DiskReportMsg>(*m)) return true;
    auto* ring = std::get_if<RingMsg>(&*m);
    return ring != nullptr && !ring->disk_reports.empty();
  };
  bus.Check(2, "d1", false);
  bus.Advance(Duration::Millis(500));
  EXPECT_EQ(PathAt(bus.at(1), "d1", 2), PathState::kOk);
  dropping = false;
  bus.Advance(Duration::Millis(500));
  EXPECT_EQ(PathAt(bus.at(3), "d1", 2), PathState::kFailed);
  EXPECT_GE(bus.at(2).metrics().disk_reports_sent, 2u);
}

// Found by the seed sweep (disks, 16 nodes, seeds 1238, 5138, 6068 at 2% loss): a lost
// report was sent again only after notify_ms, so the path failure missed its 500 ms bound.
// It goes again at the first status a period after it was reported.
TEST(MembershipDiskTest, LostReportIsSentAgainWithinTwoPeriods) {
  Bus bus(4, {"d1"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  int dropped = 0;
  bus.drop = [&](const Bytes& b) {
    auto m = Decode(b);
    if (!m || dropped >= 2) return false;
    auto* ring = std::get_if<RingMsg>(&*m);
    const bool report =
        std::holds_alternative<DiskReportMsg>(*m) || (ring && !ring->disk_reports.empty());
    dropped += report;
    return report;  // the direct copy and the ring copy of the first report
  };
  bus.Check(2, "d1", false);
  EXPECT_EQ(PathAt(bus.at(1), "d1", 2), PathState::kOk);
  bus.Advance(Duration::Millis(200));
  EXPECT_EQ(PathAt(bus.at(1), "d1", 2), PathState::kFailed);
}

TEST(MembershipDiskTest, TheRingCarriesReportsWhenTheDirectCopyIsLost) {
  Bus bus(4, {"d1"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  bus.drop = [&](const Bytes& b) {
    auto m = Decode(b);
    return m && std::holds_alternative<DiskReportMsg>(*m);
  };
  bus.Check(2, "d1", false);  // travels 2 → 3 → 4 → 1 (the supervisor)
  EXPECT_EQ(PathAt(bus.at(1), "d1", 2), PathState::kFailed);
}

TEST(MembershipDiskTest, AFailedCheckBeforeJoiningIsPublishedOnJoin) {
  Bus bus(3, {"d1"});
  bus.Check(3, "d1", false);
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  EXPECT_EQ(PathAt(bus.at(2), "d1", 3), PathState::kFailed);
  EXPECT_EQ(DiskStateAt(bus.at(2), "d1"), DiskState::kDegraded);
}

TEST(MembershipUsageTest, AnyNodeGetsTheSupervisorsTables) {
  Bus bus(3, {"d1"});
  bus.Start();
  bus.Advance(Duration::Seconds(1));
  for (NodeId id = 1; id <= 3; ++id) {
    NodeUsage u;
    u.capacity_mbps = 1000 * id;
    u.tx_bps = id;
    u.disks.push_back(DiskUsage{"d1", 100, 50u + id, 10, 20});
    bus.at(id).SetUsage(bus.now, u);
  }
  bus.Advance(Duration::Seconds(3));
  Outputs out;
  bus.at(3).RequestUsage(bus.now, 42, out);
  bus.Take(3, out);
  bus.Pump();
  ASSERT_EQ(bus.usage.size(), 1u);
  EXPECT_EQ(bus.usage[0].nonce, 42u);
  EXPECT_EQ(bus.usage[0].supervisor, 1);
  ASSERT_EQ(bus.usage[0].rows.size(), 3u);
  EXPECT_EQ(bus.usage[0].rows[2].usage.capacity_mbps, 3000u);
  EXPECT_EQ(bus.usage[0].rows[1].usage.disks.at(0).free_bytes, 52u);
  EXPECT_LE(bus.usage[0].rows[1].age, Duration::Seconds(2));
  bus.at(1).RequestUsage(bus.now, 43, out);  // the supervisor answers at once
  bus.Take(1, out);
  ASSERT_EQ(bus.usage.size(), 2u);
  EXPECT_EQ(bus.usage[1].rows.size(), 3u);
}

}  // namespace
}  // namespace cohort::membership
