#include "workload/sessions.h"

#include <gtest/gtest.h>

namespace cohort::workload {
namespace {

Version V() {
  Version v;
  v.bytes = 1 << 20;
  v.mtime_ns = 1;
  v.sha256.fill(7);
  return v;
}

// `nodes` nodes of `capacity` kbit/s, each holding every path in `paths` in its root.
struct World {
  World(int nodes, uint64_t capacity, const std::vector<std::string>& paths) {
    for (int n = 1; n <= nodes; ++n) {
      std::vector<Item> items;
      for (const auto& p : paths) items.push_back(Item{p, "", V()});
      catalog.ReplaceNode(static_cast<NodeId>(n), 1, 0, items);
      table.SetNode(static_cast<NodeId>(n), true, capacity);
    }
  }
  OpenResult Open(const std::string& path, uint64_t bitrate, SessionId id = kNoSession,
                  NodeId avoid = kNoNode) {
    return table.Open(now, catalog, OpenRequest{path, bitrate, id, 0, avoid});
  }
  void Down(NodeId node) {
    catalog.SetNodeUp(node, false);
    table.SetNode(node, false, table.nodes().at(node).capacity_kbps);
  }
  uint64_t LoadOf(NodeId node) const { return table.nodes().at(node).load_kbps; }
  Catalog catalog;
  StreamTable table{StreamOptions{}};
  int64_t now = 1000;
};

TEST(StreamTableTest, ASessionIsReservedOnItsFirstChoiceAndKeptOnReconnect) {
  World w(4, 10'000, {"a"});
  const OpenResult r = w.Open("a", 2000);
  ASSERT_EQ(r.outcome, PlaceOutcome::kPlaced);
  EXPECT_EQ(r.rank, 0u);
  EXPECT_NE(r.session, kNoSession);
  EXPECT_EQ(w.LoadOf(r.node), 2000u);
  EXPECT_EQ(w.table.totals().load_kbps, 2000u);
  EXPECT_EQ(w.table.Find(r.session)->state, SessionState::kReserved);
  // The same client again: the same node, no second reservation.
  const OpenResult again = w.Open("a", 2000, r.session);
  EXPECT_EQ(again.node, r.node);
  EXPECT_EQ(w.LoadOf(r.node), 2000u);
  // A client that left that node is sent elsewhere, keeping its session.
  const OpenResult moved = w.Open("a", 2000, r.session, r.node);
  EXPECT_EQ(moved.session, r.session);
  EXPECT_NE(moved.node, r.node);
  EXPECT_EQ(w.LoadOf(r.node), 0u);
  EXPECT_EQ(w.LoadOf(moved.node), 2000u);
}

TEST(StreamTableTest, NoRoomOnAnyHolderIsARefusalCounted) {
  World w(2, 4000, {"a"});
  EXPECT_EQ(w.Open("a", 4000).outcome, PlaceOutcome::kPlaced);
  EXPECT_NE(w.Open("a", 4000).outcome, PlaceOutcome::kNoCapacity);
  const OpenResult r = w.Open("a", 1000);
  EXPECT_EQ(r.outcome, PlaceOutcome::kNoCapacity);
  EXPECT_EQ(r.session, kNoSession);
  ASSERT_EQ(r.holders.size(), 2u);
  EXPECT_EQ(r.holders[0].load_kbps, 4000u);
  EXPECT_EQ(w.table.refused(), 1u);
  EXPECT_EQ(w.table.nodes().at(1).refused, 1u);
  EXPECT_EQ(w.Open("b", 1000).outcome, PlaceOutcome::kNoHolder);
  EXPECT_EQ(w.table.sessions().size(), 2u);
}

TEST(StreamTableTest, ReportsOpenSessionsEndThemAndRebuildATable) {
  World w(3, 10'000, {"a"});
  const OpenResult r = w.Open("a", 1000);
  const ReportedSession mine{r.session, "a", 1000, 5000, 5000, ""};
  w.table.OnReport(w.now, r.node, std::span(&mine, 1));
  EXPECT_EQ(w.table.Find(r.session)->state, SessionState::kOpen);
  EXPECT_EQ(w.table.Find(r.session)->offset, 5000u);
  w.table.OnReport(w.now + 500, r.node, {});
  EXPECT_EQ(w.table.Find(r.session), nullptr);
  EXPECT_EQ(w.LoadOf(r.node), 0u);
  // A new supervisor learns the sessions from the nodes serving them.
  StreamTable fresh{StreamOptions{}};
  for (NodeId n = 1; n <= 3; ++n) fresh.SetNode(n, true, 10'000);
  const ReportedSession theirs{77, "a", 3000, 1, 1, ""};
  fresh.OnReport(w.now, 2, std::span(&theirs, 1));
  ASSERT_NE(fresh.Find(77), nullptr);
  EXPECT_EQ(fresh.Find(77)->node, 2);
  EXPECT_EQ(fresh.nodes().at(2).load_kbps, 3000u);
  // A client reconnecting with an id the table lost keeps it.
  const OpenResult back = fresh.Open(w.now, w.catalog, OpenRequest{"a", 1000, 99, 10, kNoNode});
  EXPECT_EQ(back.session, 99u);
}

TEST(StreamTableTest, AnUnusedReservationExpires) {
  World w(2, 10'000, {"a"});
  const OpenResult r = w.Open("a", 1000);
  w.table.Tick(w.now + 5000);
  EXPECT_NE(w.table.Find(r.session), nullptr);
  w.table.Tick(w.now + 5001);
  EXPECT_EQ(w.table.Find(r.session), nullptr);
  EXPECT_EQ(w.table.totals().load_kbps, 0u);
}

TEST(StreamTableTest, ADownNodesSessionsMoveWithoutOverfillingAnyone) {
  World w(4, 12'000, {"a", "b", "c", "d", "e", "f"});
  std::vector<SessionId> ids;
  for (int k = 0; k < 24; ++k) {
    const OpenResult r =
        w.Open(std::string(1, static_cast<char>('a' + k % 6)), 1000 + 250 * (k % 3));
    ASSERT_NE(r.session, kNoSession);
    ids.push_back(r.session);
  }
  const NodeId victim = w.table.Find(ids[0])->node;
  const size_t on_victim = w.table.nodes().at(victim).ids.size();
  w.Down(victim);
  const auto moved = w.table.Reassign(w.now, w.catalog);
  EXPECT_EQ(moved.size(), on_victim);
  for (const Moved& m : moved) {
    EXPECT_EQ(m.from, victim);
    EXPECT_NE(m.to, kNoNode);
    EXPECT_NE(m.to, victim);
  }
  for (const auto& [node, n] : w.table.nodes()) EXPECT_LE(n.load_kbps, n.capacity_kbps);
  EXPECT_EQ(w.LoadOf(victim), 0u);
  EXPECT_EQ(w.table.reassigned(), on_victim);
  // The client comes back with its session and is sent to its new node.
  const Moved& first = moved.front();
  const std::string path = w.table.Find(first.session)->path;
  EXPECT_EQ(w.Open(path, 0, first.session, victim).node, first.to);
  EXPECT_TRUE(w.table.Reassign(w.now, w.catalog).empty());
}

TEST(StreamTableTest, WhatFitsNowhereWaitsUnplacedLargestFirstAndIsRetried) {
  World w(2, 5000, {"a"});
  const OpenResult big = w.Open("a", 4000);
  const OpenResult small = w.Open("a", 1000);
  const OpenResult other = w.Open("a", 3000);
  ASSERT_NE(big.node, other.node);
  const NodeId victim = big.node;
  w.Down(victim);
  const auto moved = w.table.Reassign(w.now, w.catalog);
  // The survivor holds 3000 of 5000: the 4000 cannot fit, and the 1000 may.
  for (const auto& [node, n] : w.table.nodes()) EXPECT_LE(n.load_kbps, n.capacity_kbps);
  EXPECT_EQ(w.table.Find(big.session)->state, SessionState::kUnplaced);
  EXPECT_GE(moved.size(), 1u);
  // The node returns: the unplaced session is placed on the next pass.
  w.catalog.SetNodeUp(victim, true);
  w.table.SetNode(victim, true, 5000);
  const auto retried = w.table.Reassign(w.now + 100, w.catalog);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].session, big.session);
  EXPECT_EQ(retried[0].from, kNoNode);
  EXPECT_EQ(retried[0].to, victim);
  (void)small;
}

TEST(StreamTableTest, AFailedDiskMovesTheSessionsReadingIt) {
  Catalog c;
  c.ReplaceNode(1, 1, 0, {Item{"a", "d1", V()}});
  c.ReplaceNode(2, 1, 0, {Item{"a", "", V()}});
  StreamTable t{StreamOptions{}};
  t.SetNode(1, true, 10'000);
  t.SetNode(2, true, 10'000);
  const OpenResult r = t.Open(0, c, OpenRequest{"a", 1000, kNoSession, 0, 2});
  ASSERT_EQ(r.node, 1);
  EXPECT_EQ(r.disk, "d1");
  c.SetDisk(1, "d1", DiskHealth::kFailed);
  const auto moved = t.Reassign(10, c);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].to, 2);
  EXPECT_EQ(t.Find(r.session)->disk, "");
  EXPECT_EQ(t.Find(r.session)->moves, 1u);
}

}  // namespace
}  // namespace cohort::workload
