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
  bad_state[bad_state.size() - 9] = 9;  // state byte of the only member
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
