#include "resources/agent.h"

#include <gtest/gtest.h>

namespace cohort::resources {
namespace {

constexpr NodeId kSelf = 2;
constexpr int64_t kLease = 77;
const Duration kMargin = Duration::Millis(500);

Instant At(int64_t ms) { return Instant::FromNanos(ms * 1'000'000); }

struct Fixture {
  LocalAgent agent{kSelf, kMargin};
  RegistryView view;
  Fixture() {
    ResourceSpec s;
    s.name = "web";
    s.agent = "heartbeat:Dummy";
    s.monitor_interval = Duration::Seconds(1);
    s.migration_threshold = 2;
    view.specs["web"] = s;
    view.placed["web"] = kSelf;
    agent.SetView(view);
    agent.LeaseValid(kLease, At(10'000));
  }
  void Update() { agent.SetView(view); }
  // The actions other than reports.
  std::vector<Action> Decide(int64_t ms) {
    std::vector<Action> out;
    for (Action& a : agent.Decide(At(ms))) {
      if (a.kind != ActionKind::kReport) out.push_back(a);
    }
    return out;
  }
  void Run(int64_t ms) {
    ASSERT_EQ(Decide(ms), (std::vector<Action>{{ActionKind::kAcquire, "web"}}));
    agent.Acquired("web", true);
    ASSERT_EQ(Decide(ms), (std::vector<Action>{{ActionKind::kStart, "web"}}));
    agent.Started("web", true, At(ms));
    ASSERT_EQ(agent.state("web"), LocalState::kRunning);
  }
};

using V = std::vector<Action>;

TEST(LocalAgentTest, TakesTheKeyStartsAndMonitors) {
  Fixture f;
  f.Run(0);
  EXPECT_EQ(f.Decide(500), V{});
  EXPECT_EQ(f.agent.NextWakeup(At(0)), At(1000));
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kMonitor, "web"}}));
  f.agent.Monitored("web", MonitorResult::kRunning, At(1000));
  EXPECT_EQ(f.agent.NextWakeup(At(0)), At(2000));
}

TEST(LocalAgentTest, AKeyHeldElsewhereIsWaitedFor) {
  Fixture f;
  f.view.owners["web"] = {3, 5};
  f.Update();
  EXPECT_EQ(f.Decide(0), V{});
  f.view.owners.erase("web");  // the other node's lease ended
  f.Update();
  EXPECT_EQ(f.Decide(0), (V{{ActionKind::kAcquire, "web"}}));
  f.agent.Acquired("web", false);  // someone else was quicker
  f.view.owners["web"] = {3, 6};
  f.Update();
  EXPECT_EQ(f.Decide(0), V{});
}

TEST(LocalAgentTest, AMonitorFailureRestartsInPlaceThenMovesAtTheThreshold) {
  Fixture f;
  f.Run(0);
  f.Decide(1000);
  f.agent.Monitored("web", MonitorResult::kNotRunning, At(1000));
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kRecordFailure, "web"}, {ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", true);
  EXPECT_EQ(f.Decide(1100), (V{{ActionKind::kStart, "web"}}));  // still owned: no new take
  f.agent.Started("web", true, At(1100));
  f.Decide(2100);
  f.agent.Monitored("web", MonitorResult::kFailed, At(2100));
  EXPECT_EQ(f.Decide(2100), (V{{ActionKind::kRecordFailure, "web"}, {ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", true);
  // Two failures here reach the threshold: the key goes back for another node to take.
  EXPECT_EQ(f.Decide(2200), (V{{ActionKind::kRelease, "web"}}));
  f.agent.Released("web");
  EXPECT_EQ(f.Decide(2300), V{});
}

TEST(LocalAgentTest, StopsBeforeTheLeaseCanEndAndStartsNothingFenced) {
  Fixture f;
  f.Run(0);
  f.agent.Monitored("web", MonitorResult::kRunning, At(0));
  EXPECT_EQ(f.agent.NextWakeup(At(0)), At(1000));
  f.agent.LeaseValid(kLease, At(1200));  // an older renewal's answer changes nothing
  EXPECT_EQ(f.agent.NextWakeup(At(0)), At(1000));
  LocalAgent g{kSelf, kMargin};
  g.SetView(f.view);
  g.LeaseValid(kLease, At(3000));
  EXPECT_EQ(g.Decide(At(2500)), V{});  // fenced from 2500: nothing is taken
  EXPECT_TRUE(g.Fenced(At(2500)));
  EXPECT_EQ(f.Decide(9500), (V{{ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", true);
  EXPECT_EQ(f.Decide(9600), (V{{ActionKind::kRelease, "web"}}));
}

TEST(LocalAgentTest, AMonitorUnderWayAtTheFenceIsCancelledAndNotCounted) {
  Fixture f;
  f.Run(0);
  EXPECT_EQ(f.Decide(9000), (V{{ActionKind::kMonitor, "web"}}));
  EXPECT_EQ(f.Decide(9400), V{});                                // not fenced yet: it runs on
  EXPECT_EQ(f.Decide(9500), (V{{ActionKind::kCancel, "web"}}));  // fenced: ended now
  EXPECT_EQ(f.Decide(9600), V{});                                // once
  f.agent.Monitored("web", MonitorResult::kFailed, At(9510));    // as the kill ends it
  EXPECT_EQ(f.Decide(9510), (V{{ActionKind::kStop, "web"}}));    // no failure recorded
  f.agent.Stopped("web", true);
  EXPECT_EQ(f.Decide(9600), (V{{ActionKind::kRelease, "web"}}));
}

TEST(LocalAgentTest, AStartThatEndsWellDespiteTheCancelIsStoppedAsFenced) {
  Fixture f;
  f.view.owners.clear();
  EXPECT_EQ(f.Decide(9000), (V{{ActionKind::kAcquire, "web"}}));
  f.agent.Acquired("web", true);
  EXPECT_EQ(f.Decide(9000), (V{{ActionKind::kStart, "web"}}));
  EXPECT_EQ(f.Decide(9500), (V{{ActionKind::kCancel, "web"}}));
  f.agent.Started("web", true, At(9501));  // it had ended before the kill came
  EXPECT_EQ(f.Decide(9501), (V{{ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", true);
  // Fenced again later with a new action: cancelled again (the mark was cleared).
  f.agent.LeaseValid(kLease, At(20'000));
  EXPECT_EQ(f.Decide(10'000), (V{{ActionKind::kStart, "web"}}));
  EXPECT_EQ(f.Decide(19'500), (V{{ActionKind::kCancel, "web"}}));
  f.agent.Started("web", false, At(19'501));
  EXPECT_EQ(f.Decide(19'501), (V{{ActionKind::kStop, "web"}}));
}

TEST(LocalAgentTest, MovedAwayItStopsAndGivesTheKeyBack) {
  Fixture f;
  f.Run(0);
  f.view.placed["web"] = 3;
  f.Update();
  EXPECT_EQ(f.Decide(100), (V{{ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", true);
  EXPECT_EQ(f.Decide(200), (V{{ActionKind::kRelease, "web"}}));
}

TEST(LocalAgentTest, AnActionEndingAfterTheLeaseChangedStopsTheResource) {
  Fixture f;
  f.Run(0);
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kMonitor, "web"}}));
  f.agent.LeaseLost();  // while the monitor ran, the lease ended: another node may take it
  f.agent.LeaseValid(kLease + 1, At(10'000));
  f.agent.Monitored("web", MonitorResult::kRunning, At(1100));
  EXPECT_EQ(f.Decide(1100), (V{{ActionKind::kStop, "web"}}));
}

TEST(LocalAgentTest, AFailedStopBlocksUntilCleared) {
  Fixture f;
  f.Run(0);
  f.view.specs["web"].target = TargetRole::kStopped;
  f.Update();
  EXPECT_EQ(f.Decide(100), (V{{ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", false);
  EXPECT_EQ(f.agent.state("web"), LocalState::kBlocked);
  EXPECT_EQ(f.Decide(200), V{});  // the key is kept: it may still run here
  f.agent.Clear("web");
  EXPECT_EQ(f.Decide(300), (V{{ActionKind::kRelease, "web"}}));
}

TEST(LocalAgentTest, OrderingWaitsForTheResourcesBefore) {
  Fixture f;
  f.view.specs["web"].after = {"vip"};
  f.Update();
  EXPECT_EQ(f.Decide(0), (V{{ActionKind::kAcquire, "web"}}));
  f.agent.Acquired("web", true);
  EXPECT_EQ(f.Decide(0), V{});
  f.view.running.insert("vip");
  f.Update();
  EXPECT_EQ(f.Decide(0), (V{{ActionKind::kStart, "web"}}));
}

TEST(LocalAgentTest, ALostLeaseMeansNoKey) {
  Fixture f;
  f.Run(0);
  f.agent.LeaseLost();
  EXPECT_EQ(f.Decide(100), (V{{ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", true);
  EXPECT_EQ(f.Decide(200), V{});  // nothing to give back: the key went with the lease
  f.agent.LeaseValid(kLease + 1, At(10'000));
  EXPECT_EQ(f.Decide(300), (V{{ActionKind::kAcquire, "web"}}));
}

TEST(LocalAgentTest, AKeyOfMineThatIDoNotKnowOfIsGivenBack) {
  Fixture f;
  f.Decide(0);
  f.agent.Acquired("web", false);  // the answer was an error, but the write went through
  f.view.owners["web"] = {kSelf, kLease};
  f.Update();
  EXPECT_EQ(f.Decide(0), (V{{ActionKind::kRelease, "web"}}));  // given back, then taken anew
  f.agent.Released("web");
  f.view.owners.erase("web");
  f.Update();
  EXPECT_EQ(f.Decide(0), (V{{ActionKind::kAcquire, "web"}}));
}

// Fast takeover: a 600 ms alive key.
struct AliveFixture : Fixture {
  AliveFixture() {
    agent = LocalAgent(kSelf, Duration::Millis(300), Duration::Millis(600));
    agent.SetView(view);
    agent.LeaseValid(kLease, At(10'000));
    agent.AliveRenewed(kLease, At(0));
  }
};

TEST(LocalAgentTest, FastTakeoverWaitsOutTheHoldersAliveKey) {
  AliveFixture f;
  f.view.owners["web"] = {3, 5};
  f.view.alive[3] = {5, 40, false, At(100)};
  f.Update();
  f.agent.AliveRenewed(kLease, At(500));
  EXPECT_EQ(f.Decide(600), V{});  // seen for 500 ms only
  EXPECT_EQ(f.agent.NextWakeup(At(600)), At(700));
  EXPECT_EQ(f.Decide(700), (V{{ActionKind::kTakeOver, "web"}}));
  f.agent.Acquired("web", true);
  EXPECT_EQ(f.Decide(700), (V{{ActionKind::kStart, "web"}}));
}

TEST(LocalAgentTest, FastTakeoverWaitsTheLongerOfTheTwoTtls) {
  AliveFixture f;
  f.agent.AliveRenewed(kLease, At(900));
  f.view.owners["web"] = {3, 5};
  f.view.alive[3] = {5, 40, false, At(0), Duration::Millis(1000)};  // node 3 fences at 1 s
  f.Update();
  EXPECT_EQ(f.Decide(700), V{});
  EXPECT_EQ(f.agent.NextWakeup(At(700)), At(1000));
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kTakeOver, "web"}}));
}

TEST(LocalAgentTest, FastTakeoverOnlyOnTheKeysOwnLeaseOrOnceTaken) {
  AliveFixture f;
  f.agent.AliveRenewed(kLease, At(2000));
  f.view.owners["web"] = {3, 5};
  f.view.alive[3] = {6, 40, false, At(0)};  // a newer lease of node 3: its old key waits
  f.Update();
  EXPECT_EQ(f.Decide(2000), V{});
  f.view.alive[3] = {5, 41, true, At(1900)};  // marked taken: at once
  f.Update();
  EXPECT_EQ(f.Decide(2000), (V{{ActionKind::kTakeOver, "web"}}));
}

TEST(LocalAgentTest, FastTakeoverFencesOnTheAliveKey) {
  AliveFixture f;
  f.Run(0);
  EXPECT_FALSE(f.agent.Fenced(At(299)));
  EXPECT_EQ(f.agent.NextWakeup(At(0)), At(300));  // alive sent at 0 + 600 - 300
  EXPECT_EQ(f.Decide(300), (V{{ActionKind::kStop, "web"}}));
  EXPECT_EQ(f.agent.lease_valid_until(), At(600));
}

// A promotable resource: promoted once started, its monitor must find it promoted, demoted
// before it stops.
TEST(LocalAgentTest, APromotableResourceIsPromotedAndDemotedBeforeItsStop) {
  Fixture f;
  f.view.specs["web"].promotable = true;
  f.Update();
  f.Run(0);
  EXPECT_EQ(f.Decide(0), (V{{ActionKind::kPromote, "web"}}));
  EXPECT_EQ(f.agent.state("web"), LocalState::kPromoting);
  f.agent.Promoted("web", true, At(10));
  EXPECT_TRUE(f.agent.promoted("web"));
  EXPECT_EQ(f.Decide(1010), (V{{ActionKind::kMonitor, "web"}}));
  f.agent.Monitored("web", MonitorResult::kRunningPromoted, At(1010));
  EXPECT_EQ(f.agent.state("web"), LocalState::kRunning);
  f.view.placed["web"] = 3;  // moved away: demote, then stop
  f.Update();
  EXPECT_EQ(f.Decide(1100), (V{{ActionKind::kDemote, "web"}}));
  f.agent.Demoted("web", true);
  EXPECT_FALSE(f.agent.promoted("web"));
  EXPECT_EQ(f.Decide(1100), (V{{ActionKind::kStop, "web"}}));
}

TEST(LocalAgentTest, APromotedResourceFoundUnpromotedOrAFailedPromoteIsAFailure) {
  Fixture f;
  f.view.specs["web"].promotable = true;
  f.Update();
  f.Run(0);
  EXPECT_EQ(f.Decide(0), (V{{ActionKind::kPromote, "web"}}));
  f.agent.Promoted("web", true, At(0));
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kMonitor, "web"}}));
  f.agent.Monitored("web", MonitorResult::kRunning, At(1000));  // lost its promotion
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kRecordFailure, "web"}, {ActionKind::kDemote, "web"}}));
  f.agent.Demoted("web", false);  // the stop judges
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kStop, "web"}}));
  f.agent.Stopped("web", true);
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kStart, "web"}}));  // in place, below threshold
  f.agent.Started("web", true, At(1000));
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kPromote, "web"}}));
  f.agent.Promoted("web", false, At(1000));  // may be half promoted: demoted, then stopped
  EXPECT_EQ(f.Decide(1000), (V{{ActionKind::kRecordFailure, "web"}, {ActionKind::kDemote, "web"}}));
}

}  // namespace
}  // namespace cohort::resources
