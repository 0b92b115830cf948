#include "workload/supervisor.h"

#include <gtest/gtest.h>

namespace cohort::workload {
namespace {

Item I(std::string path, uint8_t tag = 1) {
  Item i{std::move(path), "", {}};
  i.version.bytes = 100;
  i.version.mtime_ns = 5;
  i.version.sha256.fill(tag);
  return i;
}

uint64_t DigestOf(const std::vector<Item>& items) {
  uint64_t d = 0;
  for (const Item& i : items) d += Catalog::ItemDigest(i);
  return d;
}

// Node `node` with `items` at epoch 7, fed to `s` the way the daemon does.
void Feed(Supervisor& s, int64_t now, NodeId node, const std::vector<Item>& items) {
  const SummaryMsg summary{
      7, 0, DigestOf(items), items.size(), "127.0.0.1:760" + std::to_string(node), 10'000};
  const auto pull = s.OnSummary(now, node, summary);
  ASSERT_TRUE(pull);
  // Two pages.
  const size_t half = items.size() / 2;
  ListingMsg a{7, 0, 0, 2, std::vector<Item>(items.begin(), items.begin() + half)};
  ListingMsg b{7, 0, 1, 2, std::vector<Item>(items.begin() + half, items.end())};
  EXPECT_FALSE(s.OnListing(now, node, b));
  EXPECT_FALSE(s.OnListing(now, node, a));
  EXPECT_FALSE(s.OnSummary(now + 1000, node, summary)) << "in step: no pull";
}

MapView Up(std::initializer_list<std::pair<NodeId, bool>> nodes) {
  MapView m;
  m.nodes = nodes;
  return m;
}

TEST(SupervisorTest, SummariesAndListingsFillTheCatalog) {
  Supervisor s{StreamOptions{}};
  s.SetMap(Up({{1, true}, {2, true}}));
  Feed(s, 0, 1, {I("a"), I("b"), I("c")});
  Feed(s, 0, 2, {I("a"), I("d")});
  EXPECT_EQ(s.catalog().paths(), 4u);
  EXPECT_EQ(s.catalog().Servable("a").size(), 2u);
  EXPECT_EQ(s.AddressOf(2), "127.0.0.1:7602");
  // A change in order applies; one skipped asks for the listing again.
  EXPECT_FALSE(s.OnChange(10, 1, ChangeMsg{7, 1, Change{Change::Kind::kPut, I("e")}}));
  EXPECT_EQ(s.catalog().paths(), 5u);
  const auto pull = s.OnChange(20, 1, ChangeMsg{7, 3, Change{Change::Kind::kPut, I("f")}});
  ASSERT_TRUE(pull);
  EXPECT_EQ(pull->epoch, 7u);
  // Asked for once, not at every message while it comes.
  EXPECT_FALSE(s.OnChange(30, 1, ChangeMsg{7, 4, Change{Change::Kind::kPut, I("g")}}));
  EXPECT_TRUE(s.OnChange(2100, 1, ChangeMsg{7, 5, Change{Change::Kind::kPut, I("g")}}));
}

TEST(SupervisorTest, ASummaryOutOfStepAsksForTheListing) {
  Supervisor s{StreamOptions{}};
  s.SetMap(Up({{1, true}}));
  const std::vector<Item> items{I("a")};
  Feed(s, 0, 1, items);
  // A restarted daemon: a new epoch.
  EXPECT_TRUE(s.OnSummary(5000, 1, SummaryMsg{8, 0, DigestOf(items), 1, "x:1", 0}));
  // The same epoch and change, another digest.
  Supervisor t{StreamOptions{}};
  t.SetMap(Up({{1, true}}));
  Feed(t, 0, 1, items);
  EXPECT_TRUE(t.OnSummary(5000, 1, SummaryMsg{7, 0, 12345, 1, "x:1", 0}));
  // A change announced but not received: the first summary ahead waits, the second pulls.
  Supervisor u{StreamOptions{}};
  u.SetMap(Up({{1, true}}));
  Feed(u, 0, 1, items);
  EXPECT_FALSE(u.OnSummary(5000, 1, SummaryMsg{7, 1, 999, 2, "x:1", 0}));
  EXPECT_TRUE(u.OnSummary(6000, 1, SummaryMsg{7, 1, 999, 2, "x:1", 0}));
}

TEST(SupervisorTest, PlacesReportsAndMovesSessionsOffADownNode) {
  Supervisor s{StreamOptions{}};
  s.SetMap(Up({{1, true}, {2, true}, {3, true}}));
  for (NodeId n = 1; n <= 3; ++n) Feed(s, 0, n, {I("movie")});
  const PlaceReplyMsg r = s.OnPlace(100, PlaceRequestMsg{9, OpenRequest{"movie", 3000, 0, 0, 0}});
  EXPECT_EQ(r.nonce, 9u);
  ASSERT_EQ(r.outcome, PlaceOutcome::kPlaced);
  EXPECT_EQ(r.stream_address, "127.0.0.1:760" + std::to_string(r.node));
  s.OnReport(200, r.node, ReportMsg{1, 0, 1, {{r.session, "movie", 3000, 1000, 1000, ""}}});
  EXPECT_EQ(s.table().Find(r.session)->state, SessionState::kOpen);

  MapView down = Up({{1, true}, {2, true}, {3, true}});
  for (auto& [node, up] : down.nodes) up = node != r.node;
  s.SetMap(down);
  const auto moved = s.Reassign(300);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].from, r.node);
  EXPECT_NE(moved[0].to, kNoNode);
  // The client, back with its session, goes to the new node.
  const PlaceReplyMsg again =
      s.OnPlace(400, PlaceRequestMsg{10, OpenRequest{"movie", 3000, r.session, 1000, r.node}});
  EXPECT_EQ(again.session, r.session);
  EXPECT_EQ(again.node, moved[0].to);
}

TEST(SupervisorTest, AReportInPagesCountsOnlyWhenEveryPageCame) {
  Supervisor s{StreamOptions{}};
  s.SetMap(Up({{1, true}}));
  Feed(s, 0, 1, {I("movie")});
  const auto page = [](uint32_t report, uint32_t i, uint32_t pages, SessionId id) {
    return ReportMsg{report, i, pages, {{id, "movie", 1000, 0, 0, ""}}};
  };
  s.OnReport(100, 1, page(5, 0, 3, 11));
  s.OnReport(100, 1, page(5, 2, 3, 13));
  EXPECT_EQ(s.table().Find(11), nullptr);  // page 1 is missing
  s.OnReport(100, 1, page(5, 2, 3, 13));   // a duplicate changes nothing
  s.OnReport(100, 1, page(5, 1, 3, 12));
  for (SessionId id : {11, 12, 13}) {
    ASSERT_NE(s.table().Find(id), nullptr) << id;
    EXPECT_EQ(s.table().Find(id)->state, SessionState::kOpen);
  }
  // Report 6 loses a page; a late page of report 5 does not mix in; report 7 comes whole.
  s.OnReport(200, 1, page(6, 0, 2, 11));
  s.OnReport(200, 1, page(5, 1, 3, 12));
  s.OnReport(200, 1, page(5, 0, 3, 12));
  s.OnReport(300, 1, page(7, 0, 2, 11));
  EXPECT_NE(s.table().Find(12), nullptr);  // still as report 5 said
  s.OnReport(300, 1, page(7, 1, 2, 14));
  EXPECT_NE(s.table().Find(11), nullptr);
  EXPECT_NE(s.table().Find(14), nullptr);
  EXPECT_EQ(s.table().Find(12), nullptr);  // report 7 no longer names 12 and 13: ended
  EXPECT_EQ(s.table().Find(13), nullptr);
  // A restarted node counts its reports from 1 again: they are taken all the same.
  s.OnReport(400, 1, page(7, 0, 3, 11));  // a report cut short by the restart
  s.OnReport(500, 1, page(1, 0, 2, 15));
  s.OnReport(500, 1, page(1, 1, 2, 16));
  EXPECT_NE(s.table().Find(15), nullptr);
  EXPECT_EQ(s.table().Find(14), nullptr);
}

TEST(SupervisorTest, ANodeWithoutAMediaServerIsNotChosenAndALeaverIsForgotten) {
  Supervisor s{StreamOptions{}};
  s.SetMap(Up({{1, true}, {2, true}}));
  Feed(s, 0, 1, {I("a")});
  s.OnSummary(0, 2, SummaryMsg{7, 0, DigestOf({I("a")}), 1, "", 0});
  s.OnListing(0, 2, ListingMsg{7, 0, 0, 1, {I("a")}});
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(s.OnPlace(10, PlaceRequestMsg{1, OpenRequest{"a", 100, 0, 0, 0}}).node, 1);
  }
  s.SetMap(Up({{2, true}}));
  EXPECT_EQ(s.catalog().Servable("a").size(), 1u);
  EXPECT_EQ(s.OnPlace(20, PlaceRequestMsg{2, OpenRequest{"a", 100, 0, 0, 0}}).outcome,
            PlaceOutcome::kNoHolder);
  const auto moved = s.Reassign(30);
  for (const Moved& m : moved) EXPECT_EQ(m.to, kNoNode);
}

TEST(SupervisorTest, ANewSupervisorSaysNotReadyUntilEveryListingCame) {
  Supervisor s{StreamOptions{}};
  s.SetMap(Up({{1, true}, {2, true}}));
  s.Reassign(0);
  Feed(s, 10, 1, {I("a")});
  // Node 2's listing has not come: what nobody listed may be there.
  EXPECT_EQ(s.OnPlace(20, PlaceRequestMsg{1, OpenRequest{"b", 100, 0, 0, 0}}).outcome,
            PlaceOutcome::kNotReady);
  EXPECT_EQ(s.OnPlace(20, PlaceRequestMsg{2, OpenRequest{"a", 100, 0, 0, 0}}).outcome,
            PlaceOutcome::kPlaced);
  Feed(s, 30, 2, {I("c")});
  EXPECT_EQ(s.OnPlace(40, PlaceRequestMsg{3, OpenRequest{"b", 100, 0, 0, 0}}).outcome,
            PlaceOutcome::kNoHolder);
  // A node that never sends its listing holds the answer back only so long.
  Supervisor t{StreamOptions{}};
  t.SetMap(Up({{1, true}}));
  t.Reassign(0);
  EXPECT_EQ(t.OnPlace(10, PlaceRequestMsg{4, OpenRequest{"b", 100, 0, 0, 0}}).outcome,
            PlaceOutcome::kNotReady);
  EXPECT_EQ(
      t.OnPlace(Supervisor::kGatherMs, PlaceRequestMsg{5, OpenRequest{"b", 100, 0, 0, 0}}).outcome,
      PlaceOutcome::kNoHolder);
}

TEST(SupervisorTest, ARefusalNamesTheHolders) {
  Supervisor s{StreamOptions{}};
  s.SetMap(Up({{1, true}}));
  Feed(s, 0, 1, {I("a")});
  EXPECT_EQ(s.OnPlace(1, PlaceRequestMsg{1, OpenRequest{"a", 10'000, 0, 0, 0}}).outcome,
            PlaceOutcome::kPlaced);
  const PlaceReplyMsg r = s.OnPlace(2, PlaceRequestMsg{2, OpenRequest{"a", 1, 0, 0, 0}});
  EXPECT_EQ(r.outcome, PlaceOutcome::kNoCapacity);
  ASSERT_EQ(r.holders.size(), 1u);
  EXPECT_EQ(r.holders[0].load_kbps, 10'000u);
  EXPECT_EQ(r.stream_address, "");
}

}  // namespace
}  // namespace cohort::workload
