#include "membership/messages.h"

#include <gtest/gtest.h>

namespace cohort::membership {
namespace {

template <typename T>
T RoundTrip(const T& m) {
  const Bytes b = Encode(m);
  auto back = Decode(b);
  EXPECT_TRUE(back && std::holds_alternative<T>(*back));
  EXPECT_EQ(Encode(*back), b);
  return std::get<T>(*back);
}

TEST(MembershipMessagesTest, RoundTrip) {
  EXPECT_EQ(RoundTrip(NotifyMsg{3, 9, 12, 77}).digest, 77u);
  RoundTrip(MapRequestMsg{});
  ClusterMap m;
  m.supervisor = 1;
  m.version = 5;
  m.members[1] = {1, MemberState::kUp, 10};
  m.members[4] = {4, MemberState::kFailed, 11};
  EXPECT_EQ(RoundTrip(MapMsg{m}).map, m);
  EXPECT_EQ(RoundTrip(JoinMsg{7, 8}).last_version, 8u);
  EXPECT_EQ(RoundTrip(LeaveMsg{7}).incarnation, 7u);
  EXPECT_EQ(RoundTrip(RingMsg{{{2, 3}, {4, 5}}}).declarations.size(), 2u);
  EXPECT_EQ(RoundTrip(DeclareMsg{{2, 3}}).declaration.subject, 2);
  EXPECT_EQ(RoundTrip(PingMsg{99}).nonce, 99u);
  EXPECT_EQ(RoundTrip(AckMsg{98}).nonce, 98u);
}

TEST(MembershipMessagesTest, DisksAndUsageRoundTrip) {
  ClusterMap m;
  m.supervisor = 1;
  m.members[1] = {1, MemberState::kUp, 10};
  m.members[2] = {2, MemberState::kUp, 10};
  m.disks["d1"].paths[1] = {PathState::kOk, 0};
  m.disks["d1"].paths[2] = {PathState::kFailed, 3};
  m.disks["media-2.a"].failed = true;
  m.disks["media-2.a"].paths[2] = {PathState::kFailed, 1};
  EXPECT_EQ(RoundTrip(MapMsg{m}).map, m);
  EXPECT_EQ(RoundTrip(MapMsg{m}).map.Digest(), m.Digest());
  const JoinMsg join{7, 8, {{"d1", PathState::kFailed, 2}, {"d2", PathState::kOk, 0}}};
  EXPECT_EQ(RoundTrip(join).disks, join.disks);
  const DiskReport report{3, 9, {"d1", PathState::kFailed, 4}};
  EXPECT_EQ(RoundTrip(RingMsg{{{2, 3}}, {report, report}}).disk_reports.at(1), report);
  EXPECT_EQ(RoundTrip(DiskReportMsg{report}).report, report);
  NodeUsage u{1000, 5, 6, 1500, {{"d1", 100, 40, 250, 77}, {"d2", 1, 1, kUnknownBusy, 0}}};
  EXPECT_EQ(RoundTrip(UsageMsg{4, u}).usage, u);
  EXPECT_EQ(RoundTrip(UsageRequestMsg{5}).nonce, 5u);
  const UsageTableMsg table{6, {{1, Duration::Millis(1200), u}, {2, Duration::Millis(0), {}}}};
  auto back = RoundTrip(table);
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].age, Duration::Millis(1200));
  EXPECT_EQ(back.rows[0].usage, u);
}

TEST(MembershipMessagesTest, RejectsBadDiskIds) {
  EXPECT_TRUE(ValidDiskId("d1"));
  EXPECT_FALSE(ValidDiskId(""));
  EXPECT_FALSE(ValidDiskId("a/b"));
  EXPECT_FALSE(ValidDiskId(std::string(65, 'a')));
  Bytes b = Encode(DiskReportMsg{{3, 9, {"d1", PathState::kFailed, 4}}});
  b[12] = '/';  // first byte of the disk id (kind 1 + node 2 + incarnation 8 + length 1)
  EXPECT_FALSE(Decode(b));
  Bytes state = Encode(DiskReportMsg{{3, 9, {"d1", PathState::kFailed, 4}}});
  state[14] = 7;  // path state
  EXPECT_FALSE(Decode(state));
  ClusterMap m;
  m.members[1] = {1, MemberState::kUp, 1};
  m.disks["d1"].paths[1] = {PathState::kOk, 0};
  const Bytes map = Encode(MapMsg{m});
  for (size_t n = 0; n < map.size(); ++n) EXPECT_FALSE(Decode(ByteView(map).first(n)));
}

TEST(MembershipMessagesTest, RejectsMalformed) {
  EXPECT_FALSE(Decode(Bytes{}));
  EXPECT_FALSE(Decode(Bytes{0}));
  EXPECT_FALSE(Decode(Bytes{42}));
  Bytes notify = Encode(NotifyMsg{0, 1, 2, 3});  // supervisor 0
  EXPECT_FALSE(Decode(notify));
  ClusterMap m;
  m.members[1] = {1, MemberState::kUp, 1};
  Bytes map = Encode(MapMsg{m});
  for (size_t n = 0; n < map.size(); ++n) EXPECT_FALSE(Decode(ByteView(map).first(n)));
  map.push_back(0);
  EXPECT_FALSE(Decode(map));
  Bytes bad_state = Encode(MapMsg{m});
  bad_state[bad_state.size() - 11] = 9;  // state byte of the only member (then 2: no disks)
  EXPECT_FALSE(Decode(bad_state));
}

TEST(ClusterMapTest, RingAndDigest) {
  ClusterMap m;
  m.members[5] = {5, MemberState::kUp, 1};
  m.members[2] = {2, MemberState::kUp, 1};
  m.members[3] = {3, MemberState::kFailed, 1};
  EXPECT_EQ(m.Ring(), (std::vector<NodeId>{2, 5}));
  const uint64_t d = m.Digest();
  m.members[3].state = MemberState::kUp;
  EXPECT_NE(d, m.Digest());
}

}  // namespace
}  // namespace cohort::membership
