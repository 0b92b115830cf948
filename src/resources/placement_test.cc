#include "resources/placement.h"

#include <gtest/gtest.h>

#include "base/prng.h"

namespace cohort::resources {
namespace {

ResourceSpec Spec(const std::string& name) {
  ResourceSpec s;
  s.name = name;
  s.agent = "heartbeat:Dummy";
  return s;
}

PlacementInput Cluster(int nodes) {
  PlacementInput in;
  for (int n = 1; n <= nodes; ++n) in.nodes.push_back({static_cast<NodeId>(n), true, {"media"}});
  return in;
}

TEST(PlacementTest, SpreadsResourcesAcrossNodes) {
  PlacementInput in = Cluster(3);
  for (const char* n : {"a", "b", "c"}) in.specs[n] = Spec(n);
  auto p = Place(in);
  EXPECT_EQ(p["a"].node, 1);
  EXPECT_EQ(p["b"].node, 2);
  EXPECT_EQ(p["c"].node, 3);
}

TEST(PlacementTest, StaysWhereItRunsAndLeavesADeadNode) {
  PlacementInput in = Cluster(3);
  in.specs["a"] = Spec("a");
  in.running["a"] = 3;
  EXPECT_EQ(Place(in)["a"].node, 3);
  in.nodes[2].up = false;
  auto p = Place(in)["a"];
  EXPECT_EQ(p.node, 1);
  EXPECT_EQ(p.scores[2].why, "down");
}

TEST(PlacementTest, ContentAndCapacityAreRequirements) {
  PlacementInput in = Cluster(3);
  for (NodeFacts& n : in.nodes) n.capacity_mbps = 100;
  in.nodes[0].capacity_mbps = 0;  // unknown
  in.nodes[1].content = {"films/a.mp4"};
  in.nodes[2].content = {"films/a.mp4"};
  ResourceSpec s = Spec("stream-a");
  s.content = {"films/a.mp4"};
  s.needs_mbps = 60;
  in.specs["stream-a"] = s;
  ResourceSpec t = s;
  t.name = "stream-b";
  in.specs["stream-b"] = t;
  ResourceSpec u = t;
  u.name = "stream-c";
  in.specs["stream-c"] = u;
  auto p = Place(in);
  EXPECT_EQ(p["stream-a"].node, 2);
  EXPECT_EQ(p["stream-b"].node, 3);
  // Each node has 40 of its 100 Mbit/s left: the third stream runs nowhere.
  EXPECT_EQ(p["stream-c"].node, kNoNode);
  EXPECT_EQ(p["stream-c"].scores[0].why, "it does not hold content films/a.mp4");
  EXPECT_EQ(p["stream-c"].scores[1].why, "it needs 60 Mbit/s; 40 of 100 are free there");
  in.nodes[0].content = {"films/a.mp4"};
  EXPECT_EQ(Place(in)["stream-c"].scores[0].why, "its streaming capacity is unknown");
}

TEST(PlacementTest, ARunningResourceKeepsItsCapacity) {
  PlacementInput in = Cluster(2);
  for (NodeFacts& n : in.nodes) n.capacity_mbps = 100;
  ResourceSpec z = Spec("z-running");
  z.needs_mbps = 80;
  in.specs["z-running"] = z;
  in.running["z-running"] = 1;
  ResourceSpec a = Spec("a-new");
  a.needs_mbps = 80;
  a.prefer[1] = 50;
  in.specs["a-new"] = a;
  auto p = Place(in);
  EXPECT_EQ(p["z-running"].node, 1);  // placed first, though later by name
  EXPECT_EQ(p["a-new"].node, 2);
}

TEST(PlacementTest, ConstraintsExcludeNodesAndSayWhy) {
  PlacementInput in = Cluster(3);
  ResourceSpec s = Spec("a");
  s.allowed = {2, 3};
  s.disks = {"media"};
  in.nodes[1].disks_ok.clear();
  in.specs["a"] = s;
  auto p = Place(in)["a"];
  EXPECT_EQ(p.node, 3);
  EXPECT_EQ(p.scores[0].why, "not among the allowed nodes");
  EXPECT_EQ(p.scores[1].why, "disk media is not healthy there");
  in.fail_counts["a"][3] = 3;
  p = Place(in)["a"];
  EXPECT_EQ(p.node, kNoNode);
  EXPECT_EQ(p.reason, "no node can run it");
  EXPECT_NE(p.scores[2].why.find("migration threshold 3"), std::string::npos);
}

TEST(PlacementTest, MoveAndPreferencesWinOverStickiness) {
  PlacementInput in = Cluster(3);
  ResourceSpec s = Spec("a");
  s.prefer[2] = 500;
  in.specs["a"] = s;
  in.running["a"] = 1;
  EXPECT_EQ(Place(in)["a"].node, 2);
  in.specs["a"].moved_to = 3;
  auto p = Place(in)["a"];
  EXPECT_EQ(p.node, 3);
  EXPECT_NE(p.reason.find("moved here by the operator"), std::string::npos);
  in.specs["a"].target = TargetRole::kStopped;
  EXPECT_EQ(Place(in)["a"].node, kNoNode);
}

TEST(PlacementTest, ColocatedResourcesFollowEachOther) {
  PlacementInput in = Cluster(3);
  ResourceSpec web = Spec("web");
  web.with = {"vip"};
  ResourceSpec vip = Spec("vip");
  vip.prefer[3] = 10;
  in.specs["web"] = web;
  in.specs["vip"] = vip;
  auto p = Place(in);
  EXPECT_EQ(p["vip"].node, 3);
  EXPECT_EQ(p["web"].node, 3);
  in.specs["vip"].with = {"web"};  // a cycle: neither can run
  p = Place(in);
  EXPECT_EQ(p["web"].node, kNoNode);
  EXPECT_NE(p["web"].reason.find("cycle"), std::string::npos);
  in.specs["vip"].with = {"missing"};
  p = Place(in);
  EXPECT_EQ(p["vip"].node, kNoNode);
  EXPECT_EQ(p["web"].node, kNoNode);
}

// Whatever the cluster looks like: a resource is placed only on a node that is up, allowed,
// and meets its colocations; and one that can run somewhere is placed.
TEST(PlacementTest, RandomClustersKeepTheRules) {
  Prng prng(7);
  for (int round = 0; round < 2000; ++round) {
    PlacementInput in = Cluster(1 + static_cast<int>(prng.Below(6)));
    for (auto& n : in.nodes) n.up = prng.Below(4) != 0;
    const int count = 1 + static_cast<int>(prng.Below(8));
    for (int i = 0; i < count; ++i) {
      ResourceSpec s = Spec("r" + std::to_string(i));
      if (prng.Below(3) == 0) s.allowed = {static_cast<NodeId>(1 + prng.Below(6))};
      if (i > 0 && prng.Below(4) == 0) s.with = {"r" + std::to_string(prng.Below(i))};
      in.specs[s.name] = s;
    }
    auto placed = Place(in);
    for (const auto& [name, p] : placed) {
      const ResourceSpec& s = in.specs.at(name);
      if (p.node == kNoNode) {
        bool any = false;
        for (const NodeScore& score : p.scores) any = any || score.eligible;
        EXPECT_FALSE(any) << name;
        continue;
      }
      EXPECT_TRUE(in.nodes[p.node - 1].up);
      if (!s.allowed.empty()) {
        EXPECT_EQ(s.allowed[0], p.node);
      }
      for (const std::string& w : s.with) EXPECT_EQ(placed.at(w).node, p.node);
    }
  }
}

}  // namespace
}  // namespace cohort::resources
