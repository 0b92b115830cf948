#include "workload/placement.h"

#include <gtest/gtest.h>

#include <map>

#include "base/prng.h"

namespace cohort::workload {
namespace {

std::vector<Holder> Holders(int n, uint64_t capacity_kbps) {
  std::vector<Holder> h;
  for (int k = 1; k <= n; ++k) h.push_back({static_cast<NodeId>(k), 0, capacity_kbps});
  return h;
}

ClusterLoad Totals(const std::vector<Holder>& nodes) {
  ClusterLoad c;
  for (const Holder& h : nodes) {
    c.load_kbps += h.load_kbps;
    c.capacity_kbps += h.capacity_kbps;
    ++c.nodes;
    c.nodes_with_capacity += h.capacity_kbps > 0 ? 1 : 0;
  }
  return c;
}

PlaceInput Input(std::string_view path, uint64_t bitrate, const std::vector<Holder>& holders,
                 const std::vector<Holder>& cluster) {
  PlaceInput in;
  in.content = ContentHash(path);
  in.bitrate_kbps = bitrate;
  in.holders = holders;
  in.cluster = Totals(cluster);
  return in;
}

TEST(PlacementTest, AnIdleClusterSendsATitleToItsFirstChoice) {
  const auto nodes = Holders(5, 10'000);
  const auto order = RankHolders(ContentHash("movies/a.mp4"), nodes);
  ASSERT_EQ(order.size(), 5u);
  const Placement p = Place(Input("movies/a.mp4", 4'000, nodes, nodes));
  EXPECT_EQ(p.outcome, PlaceOutcome::kPlaced);
  EXPECT_EQ(p.node, order[0]);
  EXPECT_EQ(p.rank, 0u);
}

// Rendezvous order: a holder that goes away leaves the others in the same order, so only the
// titles it ranked first change their first choice.
TEST(PlacementTest, LosingAHolderKeepsTheOthersOrder) {
  const auto nodes = Holders(8, 0);
  int moved = 0;
  for (int t = 0; t < 400; ++t) {
    const uint64_t content = ContentHash("title/" + std::to_string(t));
    const auto before = RankHolders(content, nodes);
    std::vector<Holder> fewer;
    for (const Holder& h : nodes) {
      if (h.node != 3) fewer.push_back(h);
    }
    auto expected = before;
    std::erase(expected, NodeId{3});
    EXPECT_EQ(RankHolders(content, fewer), expected) << t;
    moved += before[0] == 3 ? 1 : 0;
  }
  EXPECT_GT(moved, 20);  // about 400 / 8 titles ranked node 3 first
  EXPECT_LT(moved, 90);
}

TEST(PlacementTest, AFullNodeIsPassedOverAndAllFullIsRefused) {
  auto nodes = Holders(3, 8'000);
  const auto order = RankHolders(ContentHash("x"), nodes);
  for (Holder& h : nodes) h.load_kbps = h.node == order[0] ? 6'000 : 0;
  Placement p = Place(Input("x", 4'000, nodes, nodes));
  EXPECT_NE(p.node, order[0]);
  EXPECT_NE(p.outcome, PlaceOutcome::kNoCapacity);
  for (Holder& h : nodes) h.load_kbps = 6'000;
  p = Place(Input("x", 4'000, nodes, nodes));
  EXPECT_EQ(p.outcome, PlaceOutcome::kNoCapacity);
  EXPECT_EQ(p.node, kNoNode);
}

TEST(PlacementTest, AvoidedNodesAndNoHolders) {
  const auto nodes = Holders(2, 0);
  PlaceInput in = Input("y", 1'000, nodes, nodes);
  const std::vector<NodeId> avoid{RankHolders(in.content, nodes)[0]};
  in.avoid = avoid;
  EXPECT_NE(Place(in).node, avoid[0]);
  EXPECT_EQ(Place(in).rank, 1u);
  const std::vector<NodeId> both{1, 2};
  in.avoid = both;
  EXPECT_EQ(Place(in).outcome, PlaceOutcome::kNoHolder);
  EXPECT_EQ(Place(Input("y", 1'000, {}, nodes)).outcome, PlaceOutcome::kNoHolder);
}

// Nodes that state no capacity have no admission limit, and share the bound equally.
TEST(PlacementTest, UnstatedCapacityHasNoLimitButTheBoundStillSpreads) {
  auto nodes = Holders(4, 0);
  for (int k = 0; k < 400; ++k) {
    const Placement p = Place(Input("hot", 5'000, nodes, nodes));
    ASSERT_NE(p.node, kNoNode);
    nodes[p.node - 1].load_kbps += 5'000;
  }
  // 2,000,000 kbit/s in all: none above ⌈1.25 × 500,000⌉, so every node took some.
  for (const Holder& h : nodes) {
    EXPECT_LE(h.load_kbps, 625'000u) << h.node;
    EXPECT_GT(h.load_kbps, 0u) << h.node;
  }
}

// The bound: many titles on a few holders each, sessions arriving; no node ever goes above
// ⌈(1 + balance) × its share of the load⌉ (one session at least) when a holder within it
// existed, and most sessions go to their title's first choice.
TEST(PlacementTest, NoNodeAboveTheBoundAndMostOnTheirFirstChoice) {
  constexpr int kNodes = 20, kTitles = 2'000, kCopies = 3, kSessions = 20'000;
  auto nodes = Holders(kNodes, 4'000'000);  // the sessions fill half
  Prng prng(7);
  std::vector<std::vector<NodeId>> copies(kTitles);
  for (auto& c : copies) {
    while (c.size() < kCopies) {
      const auto n = static_cast<NodeId>(1 + prng.Below(kNodes));
      if (std::find(c.begin(), c.end(), n) == c.end()) c.push_back(n);
    }
  }
  int first = 0, over = 0;
  for (int s = 0; s < kSessions; ++s) {
    // A skewed demand: low-numbered titles far more popular.
    const int t = static_cast<int>(prng.Below(prng.Below(kTitles) + 1));
    std::vector<Holder> holders;
    for (NodeId n : copies[t]) holders.push_back(nodes[n - 1]);
    const PlaceInput in = Input("t" + std::to_string(t), 2'000, holders, nodes);
    const Placement p = Place(in);
    ASSERT_TRUE(p.outcome == PlaceOutcome::kPlaced || p.outcome == PlaceOutcome::kPlacedOverBound);
    if (p.outcome == PlaceOutcome::kPlaced) {
      EXPECT_LE(nodes[p.node - 1].load_kbps + 2'000, LoadBound(in, nodes[p.node - 1]));
    } else {
      ++over;
      for (const Holder& h : holders) EXPECT_GT(h.load_kbps + 2'000, LoadBound(in, h));
    }
    first += p.rank == 0 ? 1 : 0;
    nodes[p.node - 1].load_kbps += 2'000;
  }
  EXPECT_GT(first, kSessions / 2) << "first choice " << first << ", over the bound " << over;
}

// Past the first choice, the least filled holder takes the overflow, not the second in
// rank, whose room belongs to the titles ranking it first.
TEST(PlacementTest, OverflowGoesToTheLeastFilledHolder) {
  auto nodes = Holders(4, 0);
  const PlaceInput idle = Input("hot", 1'000, nodes, nodes);
  const std::vector<NodeId> order = RankHolders(idle.content, nodes);
  nodes[order[0] - 1].load_kbps = 20'000;  // the first choice at its bound
  nodes[order[1] - 1].load_kbps = 9'000;
  nodes[order[2] - 1].load_kbps = 6'000;
  nodes[order[3] - 1].load_kbps = 5'000;
  const Placement p = Place(Input("hot", 1'000, nodes, nodes));
  EXPECT_EQ(p.outcome, PlaceOutcome::kPlaced);
  EXPECT_EQ(p.node, order[3]);
  EXPECT_EQ(p.rank, 3u);
}

TEST(PlacementTest, CapacityWeightsTheShare) {
  std::vector<Holder> nodes{{1, 0, 30'000}, {2, 0, 10'000}};
  PlaceInput in = Input("z", 1'000, nodes, nodes);
  in.cluster.load_kbps = 39'000;
  // 40,000 kbit/s after the session: node 1's share is 3/4, node 2's 1/4; × 1.25.
  EXPECT_EQ(LoadBound(in, nodes[0]), 37'500u);
  EXPECT_EQ(LoadBound(in, nodes[1]), 12'500u);
  in.balance = 0;
  EXPECT_EQ(LoadBound(in, nodes[1]), 10'000u);
  EXPECT_STREQ(PlaceOutcomeName(PlaceOutcome::kNoCapacity), "no capacity");
}

// At light load the bound gives way to the floor, a share of the node's own capacity: a hot
// title's sessions stay on its first choice until it holds a tenth of its capacity.
TEST(PlacementTest, BelowTheFloorTheFirstChoiceKeepsTheTitle) {
  auto nodes = Holders(10, 100'000);  // a floor of 10,000 kbit/s each
  const std::vector<NodeId> order = RankHolders(ContentHash("hot"), nodes);
  for (int k = 0; k < 10; ++k) {
    const Placement p = Place(Input("hot", 1'000, nodes, nodes));
    ASSERT_EQ(p.node, order[0]) << "session " << k;
    nodes[p.node - 1].load_kbps += 1'000;
  }
  // At the floor, the bound (⌈1.25 × 11,000 / 10⌉ = 1,375) spreads the next one.
  EXPECT_NE(Place(Input("hot", 1'000, nodes, nodes)).node, order[0]);
  PlaceInput in = Input("hot", 1'000, nodes, nodes);
  EXPECT_EQ(LoadBound(in, nodes[0]), 10'000u);
  in.balance_floor = 0;
  EXPECT_EQ(LoadBound(in, nodes[0]), 1'375u);
  in.balance_floor = 7;  // more than all of it: the node's capacity
  EXPECT_EQ(LoadBound(in, nodes[0]), 100'000u);
  std::vector<Holder> unstated = Holders(2, 0);  // no capacity stated: no floor
  EXPECT_EQ(LoadBound(Input("hot", 1'000, unstated, unstated), unstated[0]), 1'000u);
}

}  // namespace
}  // namespace cohort::workload
