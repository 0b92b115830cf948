#include "distribution/core.h"

#include <gtest/gtest.h>

namespace cohort::distribution {
namespace {

using Actions = std::vector<NodeAgent::Action>;

std::vector<NodeId> Started(const Actions& actions) {
  std::vector<NodeId> out;
  for (const auto& a : actions) {
    if (auto* s = std::get_if<NodeAgent::StartFeed>(&a)) out.push_back(s->target);
  }
  return out;
}

TEST(Commands, KindNamesRoundTrip) {
  for (CommandKind k : {CommandKind::kFile, CommandKind::kMkdir, CommandKind::kEnd}) {
    EXPECT_EQ(CommandKindFromName(CommandKindName(k)), k);
  }
  EXPECT_EQ(CommandKindFromName("symlink"), std::nullopt);
}

TEST(SplitList, FanoutOneIsAChain) {
  auto shares = SplitList({2, 3, 4, 5}, 1);
  ASSERT_EQ(shares.size(), 1u);
  EXPECT_EQ(shares[0].target, 2);
  EXPECT_EQ(shares[0].list, (std::vector<NodeId>{3, 4, 5}));
}

TEST(SplitList, SharesTheRestEvenly) {
  auto shares = SplitList({1, 2, 3, 4, 5, 6, 7, 8}, 3);
  ASSERT_EQ(shares.size(), 3u);
  EXPECT_EQ(shares[0].target, 1);
  EXPECT_EQ(shares[0].list, (std::vector<NodeId>{4, 5}));
  EXPECT_EQ(shares[1].list, (std::vector<NodeId>{6, 7}));
  EXPECT_EQ(shares[2].list, (std::vector<NodeId>{8}));
  EXPECT_TRUE(SplitList({}, 2).empty());
  EXPECT_EQ(SplitList({9}, 4).size(), 1u);
}

TEST(OrderByRate, FastestFirstUnknownAsFastAsTheFastestTiesInTheOrderGiven) {
  EXPECT_EQ(OrderByRate({1, 2, 3, 4}, {{2, 10.0}, {3, 30.0}, {4, 0.0}}),
            (std::vector<NodeId>{1, 3, 4, 2}));
  EXPECT_EQ(OrderByRate({4, 2, 3}, {}), (std::vector<NodeId>{4, 2, 3}));  // a relay's list
  EXPECT_EQ(OrderByRate({2, 3, 4, 5}, {{2, 5.0}, {3, 5.0}, {4, 9.0}}),
            (std::vector<NodeId>{4, 5, 2, 3}));
}

TEST(JobTracker, UploadRatesSumWhatEachSourceFeeds) {
  Manifest m;
  m.job = "1-1";
  m.base = 1;
  m.Append({{1, CommandKind::kFile, "a", 1000}, {2, CommandKind::kEnd}});
  JobTracker t(m, {1, 2, 3, 4}, TrackerOptions{}, Instant::FromNanos(0));
  const Instant at = Instant::FromNanos(1000000);
  t.OnReport({1, true, 1000, 1, 0, 2, true, ""}, at);
  t.OnReport({2, true, 400, 1, 3e6, 0, false, ""}, at);
  t.OnReport({3, true, 300, 1, 2e6, 0, false, ""}, at);
  t.OnReport({4, true, 100, 2, 0, 0, false, ""}, at);  // nothing measured yet
  EXPECT_EQ(t.UploadRates(), (std::map<NodeId, double>{{1, 5e6}}));
  t.Tick(at);
  t.OnReport({2, true, 900, 1, 1e6, 0, false, ""}, at);  // slower now: the peak stays
  t.OnReport({4, true, 300, 2, 4e6, 0, false, ""}, at);
  t.Tick(at);
  EXPECT_EQ(t.peak_upload_rates(), (std::map<NodeId, double>{{1, 5e6}, {2, 4e6}}));
}

TEST(Manifest, OffsetsAndAppend) {
  Manifest m;
  ASSERT_TRUE(m.Append({{1, CommandKind::kFile, "a", 10},
                        {2, CommandKind::kMkdir, "d"},
                        {3, CommandKind::kFile, "d/b", 5}}));
  EXPECT_EQ(m.FileOffset(2), 10u);
  EXPECT_EQ(m.StreamSize(), 15u);
  EXPECT_FALSE(m.Append({{5, CommandKind::kFile, "c", 1}}));  // ids continue the sequence
  ASSERT_TRUE(m.Append({{4, CommandKind::kEnd}}));
  EXPECT_TRUE(m.ended());
  EXPECT_FALSE(m.Append({{5, CommandKind::kFile, "c", 1}}));  // nothing after the end
}

TEST(NodeAgent, FirstOfferTakesTheListAndFeedsDownstream) {
  NodeAgent agent(2, AgentOptions{.fanout = 2});
  Actions actions;
  EXPECT_TRUE(
      agent.OnOffer(Offer{1, {3, 4, 5, 6}, 100}, {{3, 10.0}, {4, 10.0}, {5, 50.0}}, &actions));
  EXPECT_EQ(agent.source(), 1);
  // 5 is the fastest known and 6, unknown, may be as fast: they are approached first (D7).
  EXPECT_EQ(Started(actions), (std::vector<NodeId>{5, 6}));
  EXPECT_EQ(agent.feeds().at(5), (std::vector<NodeId>{3}));
  EXPECT_EQ(agent.feeds().at(6), (std::vector<NodeId>{4}));
}

TEST(NodeAgent, SwitchesOnlyToAMuchFasterSource) {
  NodeAgent agent(3, AgentOptions{});
  Actions actions;
  ASSERT_TRUE(agent.OnOffer(Offer{1, {}, 100}, {}, &actions));
  agent.SetSourceRate(100);
  EXPECT_FALSE(agent.OnOffer(Offer{2, {}, 120}, {}, &actions));
  EXPECT_EQ(agent.source(), 1);
  EXPECT_TRUE(agent.OnOffer(Offer{2, {}, 400}, {}, &actions));
  EXPECT_EQ(agent.source(), 2);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(std::get<NodeAgent::StopFeed>(actions[0]).peer, 1);
}

TEST(NodeAgent, DeclinedOfferStillHandsTheListOver) {
  NodeAgent agent(3, AgentOptions{});
  Actions actions;
  ASSERT_TRUE(agent.OnOffer(Offer{1, {}, 100}, {}, &actions));
  agent.SetSourceRate(100);
  EXPECT_FALSE(agent.OnOffer(Offer{2, {7, 8}, 100}, {}, &actions));
  EXPECT_EQ(Started(actions), (std::vector<NodeId>{7}));
}

TEST(NodeAgent, TakesTheOfferOfTheSourceReplacingItsDeadRelayBeforeItSeesTheLoss) {
  // 3 is fed by 2; 1 saw 2 die and offers to take its place. 3 has not read its own
  // connection's end yet (it still holds bytes 2 sent), yet switches at once.
  NodeAgent agent(3, AgentOptions{});
  Actions actions;
  ASSERT_TRUE(agent.OnOffer(Offer{2, {}, 100}, {}, &actions));
  agent.SetSourceRate(100);
  EXPECT_FALSE(agent.OnOffer(Offer{1, {}, 100, /*replaces=*/4}, {}, &actions));  // not 2
  EXPECT_TRUE(agent.OnOffer(Offer{1, {}, 100, /*replaces=*/2}, {}, &actions));
  EXPECT_EQ(agent.source(), 1);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(std::get<NodeAgent::StopFeed>(actions[0]).peer, 2);
  agent.OnSourceLost(2);  // its end, read later, changes nothing
  EXPECT_EQ(agent.source(), 1);
}

TEST(NodeAgent, NodeHoldingEverythingDeclinesTheFeedButTakesTheList) {
  NodeAgent agent(3, AgentOptions{});
  Actions actions;
  EXPECT_FALSE(agent.OnOffer(Offer{1, {7}, 1e9}, {}, &actions, /*holds_everything=*/true));
  EXPECT_EQ(agent.source(), kNoNode);
  EXPECT_EQ(Started(actions), (std::vector<NodeId>{7}));
}

TEST(NodeAgent, DeadDownstreamIsReplacedByTheNextInItsShare) {
  NodeAgent agent(1, AgentOptions{});
  Actions actions;
  agent.AddFeed(2, {3, 4, 5}, &actions);
  actions.clear();
  agent.OnFeedEnded(2, /*completed=*/false, &actions);
  EXPECT_EQ(Started(actions), (std::vector<NodeId>{3}));
  EXPECT_EQ(std::get<NodeAgent::StartFeed>(actions[0]).replaces, 2);  // 3 was fed by 2
  EXPECT_EQ(agent.feeds().at(3), (std::vector<NodeId>{4, 5}));
  actions.clear();
  agent.OnFeedEnded(3, /*completed=*/true, &actions);
  EXPECT_TRUE(actions.empty());
  EXPECT_TRUE(agent.feeds().empty());
}

TEST(NodeAgent, ASwitchOfferReplacingItsHungReceiverTakesThatFeedsPlace) {
  // 2 feeds 3 (fanout 1), which hung: the base offers 3's receiver 4 through 2.
  NodeAgent agent(2, AgentOptions{});
  Actions actions;
  agent.AddFeed(3, {4, 5}, &actions);
  actions.clear();
  EXPECT_FALSE(agent.AddFeed(4, {}, &actions, /*only_if_free=*/true)) << "its slot is taken";
  EXPECT_FALSE(agent.AddFeed(4, {}, &actions, true, /*replaces=*/6)) << "6 is not fed here";
  EXPECT_TRUE(actions.empty());
  EXPECT_TRUE(agent.AddFeed(4, {}, &actions, true, /*replaces=*/3));
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(std::get<NodeAgent::DropFeed>(actions[0]).target, 3);
  EXPECT_EQ(std::get<NodeAgent::StartFeed>(actions[1]).target, 4);
  EXPECT_EQ(std::get<NodeAgent::StartFeed>(actions[1]).replaces, 3);
  // 3's share is not handed on: 3 had offered 4 the rest before it hung.
  EXPECT_EQ(agent.feeds().size(), 1u);
  EXPECT_TRUE(agent.feeds().at(4).empty());
}

Manifest Job() {
  Manifest m;
  m.job = "j1";
  m.base = 1;
  m.Append({{1, CommandKind::kFile, "a", 100}, {2, CommandKind::kEnd}});
  return m;
}

Instant At(int ms) { return Instant::FromNanos(int64_t{ms} * 1000000); }

TEST(JobTracker, CompletesWhenEveryServerReportsCompletion) {
  JobTracker t(Job(), {1, 2, 3}, TrackerOptions{}, At(0));
  EXPECT_EQ(t.State(), JobState::kRunning);
  for (NodeId n : {1, 2, 3}) t.OnReport({n, true, 100, 1, 0, 2, true, ""}, At(10));
  EXPECT_EQ(t.State(), JobState::kCompleted);
  EXPECT_TRUE(t.Final());
  EXPECT_EQ(t.StateOf(0), CommandState::kCompleted);
}

TEST(JobTracker, SilentServerIsQueriedThenFailedThenRepairedWhenItAnswers) {
  TrackerOptions o;
  o.stall = Duration::Seconds(1);
  o.wait = Duration::Seconds(5);
  JobTracker t(Job(), {1, 2}, o, At(0));
  t.OnReport({1, true, 100, 1, 0, 2, true, ""}, At(100));
  t.OnReport({2, true, 40, 1, 0, 0, false, ""}, At(100));
  EXPECT_TRUE(t.Tick(At(500)).empty());
  auto a = t.Tick(At(1100));  // quiet for a stall period: query (D12)
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<JobTracker::Query>(a[0]).server, 2);
  EXPECT_TRUE(t.Tick(At(1500)).empty());
  EXPECT_TRUE(t.Tick(At(2200)).empty());  // no answer: failed
  EXPECT_EQ(t.servers().at(2).state, ServerState::kFailed);
  EXPECT_EQ(t.State(), JobState::kFailed);
  EXPECT_FALSE(t.Final());                // repairs remain
  EXPECT_TRUE(t.Tick(At(4000)).empty());  // within the wait period
  a = t.Tick(At(7300));
  ASSERT_EQ(a.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<JobTracker::Query>(a[0]));
  // It restarted and lost the job: fed again from a server that holds it.
  t.OnReport({2, false, 0, 0, 0, 0, false, ""}, At(7400));
  a = t.Tick(At(7400));
  ASSERT_EQ(a.size(), 1u);
  auto feed = std::get<JobTracker::Feed>(a[0]);
  EXPECT_EQ(feed.source, 1);
  EXPECT_EQ(feed.target, 2);
  t.OnReport({2, true, 100, 1, 0, 2, true, ""}, At(9000));
  EXPECT_EQ(t.State(), JobState::kCompleted);
}

TEST(JobTracker, UnfedServerWaitsForTheChainToHealThenIsFed) {
  TrackerOptions o;
  o.stall = Duration::Seconds(1);
  JobTracker t(Job(), {1, 2, 3}, o, At(0));
  t.OnReport({3, true, 30, kNoNode, 0, 0, false, ""}, At(100));  // its source died
  EXPECT_TRUE(t.Tick(At(600)).empty());
  auto a = t.Tick(At(1100));
  ASSERT_EQ(a.size(), 3u);  // 1 and 2 silent: queried; 3 still unfed: fed by the base
  auto feed = std::get<JobTracker::Feed>(a[2]);
  EXPECT_EQ(feed.source, 1);
  EXPECT_EQ(feed.target, 3);
}

// Feeds (and switch offers) among `actions`.
std::vector<JobTracker::Feed> Feeds(const std::vector<JobTracker::Action>& actions) {
  std::vector<JobTracker::Feed> out;
  for (const auto& a : actions) {
    if (auto* f = std::get_if<JobTracker::Feed>(&a)) out.push_back(*f);
  }
  return out;
}

TEST(JobTracker, AReceiverWhoseLiveSourceSendsNothingIsOfferedTheBase) {
  TrackerOptions o;
  o.stall = Duration::Seconds(1);
  o.stuck = Duration::Seconds(5);
  JobTracker t(Job(), {1, 2, 3}, o, At(0));
  std::vector<JobTracker::Feed> feeds;
  for (int ms = 0; ms <= 12000; ms += 500) {
    t.OnReport({1, true, 100, 1, 0, 2, true, ""}, At(ms));
    t.OnReport({2, true, 100, 1, 0, 2, true, ""}, At(ms));
    // 3 answers every report, fed by 2 (which completed), and never gets past byte 40.
    t.OnReport({3, true, 40, 2, 0, 0, false, ""}, At(ms));
    for (const auto& f : Feeds(t.Tick(At(ms)))) {
      feeds.push_back(f);
      EXPECT_GE(ms, 5000) << "offered before a stuck period";
    }
  }
  // At 5 s, and once more a stuck period later: 2 is the completed server it would be
  // given, and that is the one not sending, so the base is offered.
  ASSERT_EQ(feeds.size(), 2u);
  EXPECT_EQ(feeds[0].source, 1);
  EXPECT_EQ(feeds[0].target, 3);
  EXPECT_TRUE(feeds[0].switch_offer);
  EXPECT_EQ(feeds[0].replaces, 2);  // the target drops 2 whatever rate it measured from it
}

TEST(JobTracker, AReceiverOfAHungSourceIsOfferedThatSourcesSource) {
  TrackerOptions o;
  o.stall = Duration::Seconds(1);
  o.stuck = Duration::Seconds(5);
  JobTracker t(Job(), {1, 2, 3, 4}, o, At(0));
  std::vector<JobTracker::Feed> feeds;
  int failed_at = -1;
  for (int ms = 0; ms <= 4000; ms += 500) {
    // The chain 1 -> 2 -> 3 -> 4; 3 hangs at 1 s: it answers nothing from then on, and 4,
    // which still answers, gets no further than byte 30.
    t.OnReport({1, true, 100, 1, 0, 2, true, ""}, At(ms));
    t.OnReport({2, true, uint64_t(40 + ms / 100), 1, 10, 0, false, ""}, At(ms));
    if (ms < 1000) t.OnReport({3, true, uint64_t(30 + ms / 100), 2, 10, 0, false, ""}, At(ms));
    t.OnReport({4, true, uint64_t(std::min(20 + ms / 100, 30)), 3, 0, 0, false, ""}, At(ms));
    const auto actions = t.Tick(At(ms));
    if (failed_at < 0 && t.servers().at(3).state == ServerState::kFailed) failed_at = ms;
    for (const auto& f : Feeds(actions)) {
      feeds.push_back(f);
      EXPECT_EQ(ms, failed_at + (static_cast<int>(feeds.size()) - 1) * 1000)
          << "as soon as 3 is failed (not a stuck period later), then every stall period";
    }
  }
  ASSERT_GE(failed_at, 0) << "3 was never found failed";
  ASSERT_FALSE(feeds.empty());
  EXPECT_EQ(feeds[0].source, 2);  // it holds more than 4 and its upload to 3 moves nothing
  EXPECT_EQ(feeds[0].target, 4);
  EXPECT_TRUE(feeds[0].switch_offer);
  EXPECT_EQ(feeds[0].replaces, 3);
}

TEST(JobTracker, AReceiverThatHoldsAllThereIsOrKeepsMovingIsLeftAlone) {
  TrackerOptions o;
  o.stall = Duration::Seconds(1);
  o.stuck = Duration::Seconds(5);
  Manifest open;
  open.job = "1-1";
  open.base = 1;
  open.Append({{1, CommandKind::kFile, "a", 100}});  // more commands may come
  JobTracker t(open, {1, 2, 3, 4}, o, At(0));
  for (int ms = 0; ms <= 20000; ms += 500) {
    t.OnReport({1, true, 100, 1, 0, 1, false, ""}, At(ms));
    t.OnReport({2, true, 100, 1, 0, 1, false, ""}, At(ms));  // all there is, so far
    t.OnReport({4, true, 100, 2, 0, 1, false, ""}, At(ms));
    t.OnReport({3, true, uint64_t(ms / 500), 2, 2, 0, false, ""}, At(ms));  // slow but moving
    EXPECT_TRUE(Feeds(t.Tick(At(ms))).empty()) << ms;
  }
}

TEST(JobTracker, GivesUpAfterMaxRepairs) {
  TrackerOptions o;
  o.stall = Duration::Seconds(1);
  o.wait = Duration::Seconds(1);
  o.max_repairs = 2;
  JobTracker t(Job(), {1, 2}, o, At(0));
  t.OnReport({1, true, 100, 1, 0, 2, true, ""}, At(0));
  for (int ms = 0; ms < 20000; ms += 100) {
    for (auto& a : t.Tick(At(ms))) {
      if (auto* q = std::get_if<JobTracker::Query>(&a)) t.OnSilent(q->server, "refused", At(ms));
    }
  }
  EXPECT_EQ(t.servers().at(2).repairs, 2);
  EXPECT_TRUE(t.Final());
  EXPECT_EQ(t.State(), JobState::kFailed);
  EXPECT_EQ(t.StateOf(0), CommandState::kFailed);
}

TEST(JobTracker, CancelFailsTheUnfinishedAndAsksEveryServerToDropUntilItConfirms) {
  TrackerOptions o;
  o.stall = Duration::Seconds(1);
  o.wait = Duration::Seconds(5);
  o.max_repairs = 3;
  JobTracker t(Job(), {1, 2, 3}, o, At(0));
  t.OnReport({1, true, 100, 1, 0, 2, true, ""}, At(100));       // completed
  t.OnReport({2, true, 40, 1, 0, 0, false, ""}, At(100));       // receiving
  t.OnReport({3, true, 0, kNoNode, 0, 0, false, ""}, At(100));  // unfed
  EXPECT_FALSE(t.drops_pending());
  t.Cancel("upload abandoned", At(200));
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(t.drops_pending());
  EXPECT_EQ(t.State(), JobState::kFailed);
  EXPECT_TRUE(t.Final());
  EXPECT_EQ(t.servers().at(1).state, ServerState::kCompleted);
  EXPECT_EQ(t.servers().at(2).state, ServerState::kFailed);
  EXPECT_EQ(t.servers().at(2).error, "upload abandoned");
  EXPECT_EQ(t.StateOf(0), CommandState::kFailed);
  auto a = t.Tick(At(200));  // every server, the completed one too (it may be feeding)
  ASSERT_EQ(a.size(), 3u);
  for (const auto& x : a) ASSERT_TRUE(std::holds_alternative<JobTracker::Drop>(x));
  t.OnDropped(1);
  t.OnDropped(2);
  // Server 2 completing before it heard of the cancel still counts; nothing is repaired.
  t.OnReport({2, true, 100, 1, 0, 2, true, ""}, At(300));
  EXPECT_EQ(t.servers().at(2).state, ServerState::kCompleted);
  t.OnSilent(3, "not answering", At(400));
  EXPECT_EQ(t.servers().at(3).error, "upload abandoned");
  EXPECT_TRUE(t.Tick(At(3000)).empty());  // neither queried nor fed while the wait runs
  int drops = 0;
  for (int ms = 5200; ms < 60000; ms += 100) {
    for (const auto& x : t.Tick(At(ms))) {
      EXPECT_EQ(std::get<JobTracker::Drop>(x).server, 3);
      ++drops;
    }
  }
  EXPECT_EQ(drops, 2);  // then it gives up: three Drops in all, as many as repairs
  EXPECT_FALSE(t.drops_pending());
  EXPECT_EQ(t.State(), JobState::kFailed);
}

}  // namespace
}  // namespace cohort::distribution
