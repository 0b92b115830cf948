// MembershipCore driven by hand with explicit time; multi-node behaviour at scale lives in
// the simulator scenarios (tests/sim).
#include "membership/core.h"

#include <gtest/gtest.h>

#include <deque>

namespace cohort::membership {
namespace {

// Delivers every message instantly in FIFO order; `down` nodes neither send nor receive.
class Bus {
 public:
  explicit Bus(int n) {
    for (int k = 1; k <= n; ++k) {
      MembershipOptions o;
      o.self = static_cast<NodeId>(k);
      o.incarnation = 100;
      for (int p = 1; p <= n; ++p) o.priority.push_back(static_cast<NodeId>(p));
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
    }
    out.clear();
  }
  void Pump() {
    for (int guard = 0; !q.empty() && guard < 100000; ++guard) {
      auto [from, to, bytes] = q.front();
      q.pop_front();
      if (down.count(from) || down.count(to)) continue;
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
  std::vector<std::unique_ptr<MembershipCore>> cores;
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

}  // namespace
}  // namespace cohort::membership
