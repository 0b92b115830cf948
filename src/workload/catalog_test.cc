#include "workload/catalog.h"

#include <gtest/gtest.h>

namespace cohort::workload {
namespace {

Version V(int64_t mtime, uint8_t tag, uint64_t bytes = 1000) {
  Version v;
  v.bytes = bytes;
  v.mtime_ns = mtime;
  v.sha256.fill(tag);
  return v;
}

Item I(std::string path, Version v, std::string disk = "") {
  return Item{std::move(path), std::move(disk), v};
}

std::vector<NodeId> Nodes(const std::vector<std::pair<NodeId, std::string>>& servable) {
  std::vector<NodeId> out;
  for (const auto& s : servable) out.push_back(s.first);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CatalogTest, ListingsFromSeveralNodesMakeOneEntryPerPath) {
  Catalog c;
  c.ReplaceNode(1, 7, 0, {I("movies/a.mp4", V(10, 1)), I("movies/b.mp4", V(10, 2))});
  c.ReplaceNode(2, 9, 0, {I("movies/a.mp4", V(10, 1))});
  EXPECT_EQ(c.paths(), 2u);
  EXPECT_EQ(c.copies(), 3u);
  EXPECT_EQ(Nodes(c.Servable("movies/a.mp4")), (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(Nodes(c.Servable("movies/b.mp4")), (std::vector<NodeId>{1}));
  EXPECT_TRUE(c.Lookup("movies/c.mp4").empty());
  EXPECT_FALSE(c.Current("movies/c.mp4"));
  EXPECT_EQ(c.EpochOf(2), 9u);
}

TEST(CatalogTest, AnOlderVersionIsStaleAndNeverServed) {
  Catalog c;
  c.ReplaceNode(1, 1, 0, {I("a", V(10, 1))});
  c.ReplaceNode(2, 1, 0, {I("a", V(20, 2))});
  EXPECT_EQ(Nodes(c.Servable("a")), (std::vector<NodeId>{2}));
  EXPECT_EQ(c.Current("a"), V(20, 2));
  const auto h = c.Lookup("a");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].node, 2);
  EXPECT_EQ(h[0].state, HoldingState::kAvailable);
  EXPECT_EQ(h[1].state, HoldingState::kStale);
  // Node 1 receives the new version: both serve it.
  EXPECT_EQ(c.Apply(1, 1, 1, Change{Change::Kind::kPut, I("a", V(20, 2))}), FeedResult::kApplied);
  EXPECT_EQ(Nodes(c.Servable("a")), (std::vector<NodeId>{1, 2}));
  EXPECT_EQ(c.copies(), 2u);
  // The same bytes written at another time (a copy installed later) are not stale.
  c.ReplaceNode(3, 1, 0, {I("a", V(5, 2))});
  EXPECT_EQ(Nodes(c.Servable("a")), (std::vector<NodeId>{1, 2, 3}));
}

TEST(CatalogTest, NodeAndDiskStatesFollowTheMap) {
  Catalog c;
  c.ReplaceNode(1, 1, 0, {I("a", V(10, 1)), I("a", V(10, 1), "shared1")});
  c.ReplaceNode(2, 1, 0, {I("a", V(10, 1), "shared1")});
  c.ReplaceNode(3, 1, 0, {I("a", V(10, 1))});
  c.SetNodeUp(3, false);
  EXPECT_EQ(c.StateOf("a", 3, ""), HoldingState::kNodeDown);
  c.SetDisk(2, "shared1", DiskHealth::kPathFailed);
  EXPECT_EQ(c.StateOf("a", 2, "shared1"), HoldingState::kPathFailed);
  EXPECT_EQ(Nodes(c.Servable("a")), (std::vector<NodeId>{1}));
  // Node 1 holds a copy in its root and one on the disk: one entry, its root's.
  ASSERT_EQ(c.Servable("a").size(), 1u);
  EXPECT_EQ(c.Servable("a")[0].second, "");
  c.SetDisk(1, "shared1", DiskHealth::kFailed);
  EXPECT_EQ(c.StateOf("a", 1, "shared1"), HoldingState::kDiskFailed);
  EXPECT_EQ(c.StateOf("a", 1, ""), HoldingState::kAvailable);
  c.SetNodeUp(3, true);
  c.SetDisk(2, "shared1", DiskHealth::kWorking);
  EXPECT_EQ(Nodes(c.Servable("a")), (std::vector<NodeId>{1, 2, 3}));
}

TEST(CatalogTest, NumberedChangesApplyInOrderAndAGapAsksForTheListing) {
  Catalog c;
  EXPECT_EQ(c.Apply(1, 1, 1, Change{Change::Kind::kPut, I("a", V(1, 1))}), FeedResult::kNeedFull);
  c.ReplaceNode(1, 5, 3, {I("a", V(1, 1))});
  EXPECT_EQ(c.Apply(1, 5, 3, Change{Change::Kind::kRemove, I("a", {})}), FeedResult::kIgnored);
  EXPECT_EQ(c.Apply(1, 4, 9, Change{Change::Kind::kRemove, I("a", {})}), FeedResult::kIgnored);
  EXPECT_EQ(c.Apply(1, 5, 5, Change{Change::Kind::kRemove, I("a", {})}), FeedResult::kNeedFull);
  EXPECT_EQ(c.Apply(1, 6, 1, Change{Change::Kind::kRemove, I("a", {})}), FeedResult::kNeedFull);
  EXPECT_EQ(c.paths(), 1u);
  EXPECT_EQ(c.Apply(1, 5, 4, Change{Change::Kind::kRemove, I("a", {})}), FeedResult::kApplied);
  EXPECT_EQ(c.paths(), 0u);
  EXPECT_EQ(c.CopiesOf(1), 0u);
}

TEST(CatalogTest, TheDigestFollowsEveryChangeWhateverItsOrder) {
  Catalog a, b;
  a.ReplaceNode(1, 1, 0, {I("x", V(1, 1)), I("y", V(2, 2)), I("z", V(3, 3), "d")});
  b.ReplaceNode(1, 1, 0, {I("z", V(3, 3), "d")});
  b.Apply(1, 1, 1, Change{Change::Kind::kPut, I("y", V(2, 2))});
  b.Apply(1, 1, 2, Change{Change::Kind::kPut, I("x", V(9, 9))});
  EXPECT_NE(a.DigestOf(1), b.DigestOf(1));
  b.Apply(1, 1, 3, Change{Change::Kind::kPut, I("x", V(1, 1))});
  EXPECT_EQ(a.DigestOf(1), b.DigestOf(1));
  b.Apply(1, 1, 4, Change{Change::Kind::kRemove, I("y", {})});
  EXPECT_NE(a.DigestOf(1), b.DigestOf(1));
  b.ReplaceNode(1, 2, 0, {});
  EXPECT_EQ(b.DigestOf(1), 0u);
  EXPECT_EQ(b.copies(), 0u);
}

TEST(CatalogTest, ReplacingANodeKeepsTheOthersCopies) {
  Catalog c;
  c.ReplaceNode(1, 1, 0, {I("a", V(1, 1)), I("b", V(1, 1))});
  c.ReplaceNode(2, 1, 0, {I("a", V(1, 1))});
  c.ReplaceNode(1, 2, 0, {I("c", V(1, 1))});
  EXPECT_EQ(Nodes(c.Servable("a")), (std::vector<NodeId>{2}));
  EXPECT_TRUE(c.Lookup("b").empty());
  c.RemoveNode(2);
  EXPECT_TRUE(c.Lookup("a").empty());
  EXPECT_EQ(c.paths(), 1u);
  EXPECT_FALSE(c.EpochOf(2));
}

TEST(CatalogTest, PagesWalkThePathsInOrderByPrefixAndNode) {
  Catalog c;
  std::vector<Item> one, two;
  for (int k = 0; k < 25; ++k) {
    const std::string path = "m/" + std::string(k < 10 ? "0" : "") + std::to_string(k);
    (k % 2 ? one : two).push_back(I(path, V(1, 1)));
  }
  two.push_back(I("n/other", V(1, 1)));
  c.ReplaceNode(1, 1, 0, one);
  c.ReplaceNode(2, 1, 0, two);
  std::vector<std::string> all;
  std::string after;
  for (int page = 0; page < 10; ++page) {
    bool more = false;
    const auto got = c.Page("m/", after, kNoNode, 10, &more);
    all.insert(all.end(), got.begin(), got.end());
    if (!more) break;
    after = got.back();
  }
  ASSERT_EQ(all.size(), 25u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  bool more = false;
  const auto odd = c.Page("", "", 1, 100, &more);
  EXPECT_EQ(odd.size(), 12u);
  EXPECT_FALSE(more);
  EXPECT_EQ(c.Page("n/", "", kNoNode, 100, &more), (std::vector<std::string>{"n/other"}));
  EXPECT_TRUE(c.Page("m/", "m/24", kNoNode, 100, &more).empty());
  // `after` before the prefix starts at the prefix.
  EXPECT_EQ(c.Page("n/", "a", kNoNode, 1, &more).size(), 1u);
}

}  // namespace
}  // namespace cohort::workload
