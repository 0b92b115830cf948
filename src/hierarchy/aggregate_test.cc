#include "hierarchy/aggregate.h"

#include <gtest/gtest.h>

namespace cohort::hierarchy {
namespace {

using membership::ClusterMap;
using membership::DiskPath;
using membership::MemberState;
using membership::NodeUsage;
using membership::PathState;
using membership::UsageRow;

ClusterMap Map(std::map<NodeId, MemberState> states) {
  ClusterMap m;
  for (const auto& [id, s] : states) m.members[id] = {id, s, 1};
  return m;
}

UsageRow Row(NodeId node, uint32_t capacity_mbps, uint64_t tx_mbps) {
  UsageRow r;
  r.node = node;
  r.usage.capacity_mbps = capacity_mbps;
  r.usage.tx_bps = tx_mbps * 1'000'000;
  return r;
}

TEST(Aggregate, CountsMembersUpAndTheCapacityTheyOfferAndHaveFree) {
  const ClusterMap map = Map({{1, MemberState::kUp},
                              {2, MemberState::kUp},
                              {3, MemberState::kFailed},
                              {4, MemberState::kUp},
                              {5, MemberState::kLeft},
                              {6, MemberState::kJoining}});
  // Node 3 is failed: its last row does not count; node 4 states no capacity; node 2 sends
  // more than it says it can.
  const Aggregate a =
      OfCluster(map, {Row(1, 1000, 250), Row(2, 400, 500), Row(3, 1000, 0), Row(4, 0, 10)}, {});
  EXPECT_EQ(a.members, 5u);  // node 5 left: not counted
  EXPECT_EQ(a.members_up, 3u);
  EXPECT_EQ(a.capacity_mbps, 1400u);
  EXPECT_EQ(a.free_mbps, 750u);
  EXPECT_EQ(a.capacity_unknown, 1u);
}

TEST(Aggregate, DisksCarryTheirStateAndTheSpaceTheirReachersMeasure) {
  ClusterMap map = Map({{1, MemberState::kUp}, {2, MemberState::kUp}, {3, MemberState::kUp}});
  map.disks["media1"].paths = {{1, DiskPath{PathState::kOk, 1}}, {2, DiskPath{PathState::kOk, 1}}};
  map.disks["media2"].paths = {{2, DiskPath{PathState::kFailed, 2}},
                               {3, DiskPath{PathState::kOk, 2}}};
  map.disks["media3"].failed = true;
  UsageRow r1 = Row(1, 100, 0), r3 = Row(3, 100, 0);
  r1.usage.disks = {{"media1", 4000, 1000, 0, 0}};
  r3.usage.disks = {{"media2", 8000, 9000, 0, 0}};  // free above total: held to total
  const Aggregate a = OfCluster(map, {r1, r3}, {});
  ASSERT_EQ(a.disks.size(), 3u);
  EXPECT_EQ(a.disks[0], (DiskSummary{"media1", DiskState::kOk, 4000, 1000}));
  EXPECT_EQ(a.disks[1], (DiskSummary{"media2", DiskState::kDegraded, 8000, 8000}));
  EXPECT_EQ(a.disks[2], (DiskSummary{"media3", DiskState::kFailed, 0, 0}));
}

// Levels nest: a member that stands for a sub-cluster brings its aggregate; when that member
// is not up, the whole sub-cluster counts as down and its disks as failed.
TEST(Aggregate, SubClustersBringTheirAggregatesAndCountAsDownWhenTheirNodeIs) {
  const Aggregate east{
      .members = 4,
      .members_up = 3,
      .capacity_mbps = 3000,
      .free_mbps = 2000,
      .disks = {{"e1", DiskState::kOk, 100, 50}, {"shared", DiskState::kOk, 900, 400}}};
  Aggregate west = east;
  west.disks = {{"shared", DiskState::kFailed, 900, 400}, {"w1", DiskState::kOk, 10, 5}};
  const ClusterMap map = Map({{1, MemberState::kUp}, {2, MemberState::kUp}});
  const Aggregate both = OfCluster(map, {}, {{1, east}, {2, west}});
  EXPECT_EQ(both.members, 8u);
  EXPECT_EQ(both.members_up, 6u);
  EXPECT_EQ(both.capacity_mbps, 6000u);
  EXPECT_EQ(both.free_mbps, 4000u);
  ASSERT_EQ(both.disks.size(), 3u);
  EXPECT_EQ(both.disks[1], (DiskSummary{"shared", DiskState::kDegraded, 900, 400}));

  const ClusterMap west_gone = Map({{1, MemberState::kUp}, {2, MemberState::kFailed}});
  const Aggregate one = OfCluster(west_gone, {}, {{1, east}, {2, west}});
  EXPECT_EQ(one.members, 8u);
  EXPECT_EQ(one.members_up, 3u);
  EXPECT_EQ(one.capacity_mbps, 3000u);
  EXPECT_EQ(one.disks[2], (DiskSummary{"w1", DiskState::kFailed, 10, 5}));
  EXPECT_EQ(one.disks[1].state, DiskState::kDegraded);  // still reached through east
}

TEST(Aggregate, EncodesAndDecodesExactly) {
  const Aggregate a{.members = 10000,
                    .members_up = 9999,
                    .capacity_mbps = 40'000'000,
                    .free_mbps = 1,
                    .capacity_unknown = 7,
                    .disks = {{"a", DiskState::kOk, 1, 0}, {"b", DiskState::kFailed, 5, 5}}};
  const wire::Bytes bytes = Encode(a);
  auto back = Decode(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, a);
  EXPECT_EQ(Encode(*back), bytes);
}

TEST(Aggregate, RefusesWhatNoPeerCouldMeanAndTruncations) {
  const Aggregate a{.members = 2,
                    .members_up = 1,
                    .capacity_mbps = 10,
                    .free_mbps = 5,
                    .disks = {{"a", DiskState::kOk, 9, 1}, {"b", DiskState::kOk, 9, 1}}};
  const wire::Bytes good = Encode(a);
  ASSERT_EQ(good.size(), 97u);  // 59 bytes of counts, 19 per disk
  ASSERT_TRUE(Decode(good));
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(Decode(wire::ByteView(good.data(), n))) << "truncated to " << n;
  }
  wire::Bytes longer = good;
  longer.push_back(0);
  EXPECT_FALSE(Decode(longer));
  // Bytes no encoder sends, patched into the good ones (the layout: docs/design/hierarchy.md).
  auto refused = [&](size_t at, uint8_t value) {
    wire::Bytes b = good;
    b[at] = value;
    return !Decode(b).has_value();
  };
  EXPECT_TRUE(refused(5, 3));     // members up 3 of 2
  EXPECT_TRUE(refused(17, 11));   // 11 Mbit/s free of 10
  EXPECT_TRUE(refused(25, 2));    // 2 members of unknown capacity of 1 up
  EXPECT_TRUE(refused(49, 1));    // counted disks: 1 byte free of 0
  EXPECT_TRUE(refused(57, 65));   // 65 disks listed: past the limit
  EXPECT_TRUE(refused(60, 'c'));  // disks out of order: "c", "b"
  EXPECT_TRUE(refused(79, 'a'));  // "a" twice
  EXPECT_TRUE(refused(70, 10));   // 10 bytes free of 9
  EXPECT_TRUE(refused(80, 3));    // the last disk's state: out of range
  EXPECT_TRUE(refused(59, 0));    // an empty disk id
  EXPECT_TRUE(refused(0, 2));     // a version this node does not know
}

// Encode holds whatever it is given to the decoder's rules, so what is sent always decodes.
TEST(Aggregate, WhatIsSentAlwaysDecodes) {
  const Aggregate a{.members = 1,
                    .members_up = 3,
                    .capacity_mbps = 5,
                    .free_mbps = 9,
                    .capacity_unknown = 4,
                    .disks = {{"ok", DiskState::kOk, 1, 2},
                              {"", DiskState::kOk, 1, 1},
                              {std::string(256, 'x'), DiskState::kOk, 1, 1},
                              {"b", DiskState::kOk, 7, 3},
                              {"b", DiskState::kFailed, 7, 4}}};
  auto back = Decode(Encode(a));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->members_up, 1u);
  EXPECT_EQ(back->free_mbps, 5u);
  EXPECT_EQ(back->capacity_unknown, 1u);
  ASSERT_EQ(back->disks.size(), 2u);
  EXPECT_EQ(back->disks[0], (DiskSummary{"b", DiskState::kDegraded, 7, 4}));
  EXPECT_EQ(back->disks[1], (DiskSummary{"ok", DiskState::kOk, 1, 1}));
}

// Past kMaxListedDisks a sum counts its disks instead of listing them, so an aggregate's
// size does not grow with the tree below it; counts survive a sub-cluster's loss as failed.
TEST(Aggregate, ManyDisksAreCountedInsteadOfListed) {
  Aggregate a;
  Aggregate b;
  for (int k = 0; k < 40; ++k) {
    a.disks.push_back({"a" + std::to_string(100 + k), DiskState::kOk, 10, 4});
    b.disks.push_back({"b" + std::to_string(100 + k), DiskState::kFailed, 20, 0});
  }
  b.disks.push_back({"a100", DiskState::kOk, 10, 4});  // shared: merged while listed
  Aggregate sum = a;
  Add(sum, b);
  EXPECT_TRUE(sum.disks.empty());
  EXPECT_EQ(sum.unlisted, (DiskCounts{40, 0, 40, 1200, 160}));
  EXPECT_EQ(CountDisks(sum), sum.unlisted);
  auto back = Decode(Encode(sum));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, sum);
  EXPECT_LT(Encode(sum).size(), 64u);

  // A listed part added to a counted one: listed disks stay listed, counts add up.
  Aggregate mixed = sum;
  Add(mixed, Aggregate{.disks = {{"x", DiskState::kDegraded, 5, 1}}});
  EXPECT_EQ(mixed.disks.size(), 1u);
  EXPECT_EQ(CountDisks(mixed), (DiskCounts{40, 1, 40, 1205, 161}));

  // The node standing for it fails: every disk counted as failed.
  const ClusterMap map = Map({{1, MemberState::kFailed}});
  const Aggregate gone = OfCluster(map, {}, {{1, mixed}});
  EXPECT_EQ(CountDisks(gone), (DiskCounts{0, 0, 81, 1205, 161}));

  // An encoder given more than the limit counts them too.
  Aggregate many;
  for (int k = 0; k < 70; ++k)
    many.disks.push_back({"d" + std::to_string(k), DiskState::kOk, 1, 1});
  back = Decode(Encode(many));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->disks.empty());
  EXPECT_EQ(back->unlisted.ok, 70u);
}

// Figures from a peer are hostile: sums stop at the maximum, so members up never exceed
// members however large the parts.
TEST(Aggregate, SumsStopAtTheMaximumInsteadOfWrapping) {
  const Aggregate big{.members = 0x80000001u,
                      .members_up = 0x7fffffffu,
                      .capacity_mbps = ~uint64_t{0},
                      .free_mbps = ~uint64_t{0} - 1};
  Aggregate sum = big;
  Add(sum, big);
  EXPECT_EQ(sum.members, 0xffffffffu);
  EXPECT_EQ(sum.members_up, 0xfffffffeu);
  EXPECT_EQ(sum.capacity_mbps, ~uint64_t{0});
  EXPECT_LE(sum.free_mbps, sum.capacity_mbps);
}

}  // namespace
}  // namespace cohort::hierarchy
