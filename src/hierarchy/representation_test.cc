#include "hierarchy/representation.h"

#include <gtest/gtest.h>

namespace cohort::hierarchy {
namespace {

Instant At(int64_t ms) { return Instant::FromNanos(1'000'000'000 + ms * 1'000'000); }

Aggregate Up(uint32_t up, uint32_t of = 4) {
  Aggregate a;
  a.members = of;
  a.members_up = up;
  return a;
}

// The messages of `out` to `to`, decoded.
std::vector<Message> To(NodeId to, const Outputs& out) {
  std::vector<Message> got;
  for (const auto& o : out) {
    const auto* s = std::get_if<membership::SendTo>(&o);
    if (s == nullptr || s->to != to) continue;
    auto m = DecodeMessage(s->bytes);
    EXPECT_TRUE(m.has_value());
    if (m) got.push_back(*m);
  }
  return got;
}

TEST(HierarchyMessages, RoundTripAndRefusals) {
  const Message a = AggregateMsg{7, 3, Up(3)};
  const Message k = AggregateAckMsg{7, 3};
  for (const Message& m : {a, k}) {
    const auto bytes = EncodeMessage(m);
    EXPECT_EQ(DecodeMessage(bytes), m);
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_FALSE(DecodeMessage(longer).has_value());  // trailing bytes
    EXPECT_FALSE(DecodeMessage(wire::ByteView(bytes).first(bytes.size() - 1)).has_value());
  }
  auto bad = EncodeMessage(k);
  bad[0] = 9;
  EXPECT_FALSE(DecodeMessage(bad).has_value());
}

TEST(Representation, SentOnChangeResentUntilAckedThenRefreshed) {
  RepresentationCore rep({.self = 2, .incarnation = 5});
  Outputs out;
  rep.SetKeepers(At(0), {1, 1}, {}, out);
  EXPECT_TRUE(out.empty());  // nothing to send yet
  rep.SetOwn(At(0), Up(4), out);
  auto sent = To(1, out);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(std::get<AggregateMsg>(sent[0]).seq, 1u);
  EXPECT_EQ(rep.NextDeadline(), At(100));  // resent until acknowledged
  out.clear();
  rep.Tick(At(100), out);
  EXPECT_EQ(To(1, out).size(), 1u);
  rep.OnMessage(At(101), 1, EncodeMessage(AggregateAckMsg{5, 1}), out);
  EXPECT_EQ(rep.NextDeadline(), At(2100));  // then only refreshed
  // The same aggregate again is no change; a new one goes out within min_interval.
  out.clear();
  rep.SetOwn(At(105), Up(4), out);
  EXPECT_TRUE(out.empty());
  rep.SetOwn(At(110), Up(3), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(rep.NextDeadline(), At(120));
  rep.SetOwn(At(115), Up(2), out);  // a burst goes out as its last
  rep.Tick(At(120), out);
  sent = To(1, out);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(std::get<AggregateMsg>(sent[0]).aggregate, Up(2));
  // An ack from another incarnation's exchange is not this one's.
  rep.OnMessage(At(121), 1, EncodeMessage(AggregateAckMsg{4, 3}), out);
  EXPECT_EQ(rep.NextDeadline(), At(220));
}

TEST(Representation, ANewSupervisorIsSentTheAggregateAtOnce) {
  RepresentationCore rep({.self = 2, .incarnation = 5});
  Outputs out;
  rep.SetOwn(At(0), Up(4), out);
  EXPECT_TRUE(out.empty());  // no supervisor yet
  rep.SetKeepers(At(10), {1, 1}, {}, out);
  EXPECT_EQ(To(1, out).size(), 1u);
  out.clear();
  rep.SetKeepers(At(20), {3, 1}, {}, out);
  EXPECT_EQ(To(3, out).size(), 1u);
}

TEST(Representation, TheSupervisorKeepsTheNewestPerMemberAndAcks) {
  RepresentationCore sup({.self = 1, .incarnation = 9});
  Outputs out;
  sup.SetKeepers(At(0), {1, 1}, {}, out);
  sup.SetOwn(At(0), Up(4), out);
  EXPECT_TRUE(out.empty());  // its own aggregate goes straight into its table
  sup.OnMessage(At(1), 2, EncodeMessage(AggregateMsg{5, 2, Up(3)}), out);
  EXPECT_EQ(To(2, out).size(), 1u);
  EXPECT_TRUE(sup.TakeChanged());
  EXPECT_FALSE(sup.TakeChanged());
  // A late datagram of the same representative, and one of its dead predecessor: no change,
  // but acknowledged, so neither sender keeps resending.
  out.clear();
  sup.OnMessage(At(2), 2, EncodeMessage(AggregateMsg{5, 1, Up(4)}), out);
  sup.OnMessage(At(3), 2, EncodeMessage(AggregateMsg{4, 9, Up(4)}), out);
  EXPECT_EQ(To(2, out).size(), 2u);
  EXPECT_FALSE(sup.TakeChanged());
  EXPECT_EQ(sup.metrics().stale, 2u);
  // The successor (higher incarnation) replaces it from its first aggregate.
  sup.OnMessage(At(4), 2, EncodeMessage(AggregateMsg{6, 1, Up(2)}), out);
  EXPECT_EQ(sup.received().at(2).aggregate, Up(2));
  const auto all = sup.Aggregates();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all.at(1), Up(4));
  // A member no longer listed is forgotten; garbage is ignored.
  membership::ClusterMap map;
  map.members[1] = membership::Member{1, membership::MemberState::kUp, 9};
  sup.Forget(map);
  EXPECT_EQ(sup.received().size(), 1u);
  out.clear();
  const uint8_t junk[] = {1, 2, 3};
  sup.OnMessage(At(5), 3, junk, out);
  EXPECT_TRUE(out.empty());
}

TEST(Representation, TheDeputyKeepsATableTooAndEachKeeperIsResentUntilItAcks) {
  RepresentationCore rep({.self = 3, .incarnation = 5});
  Outputs out;
  rep.SetOwn(At(0), Up(4), out);
  rep.SetKeepers(At(0), {1, 1}, {2, 1}, out);
  EXPECT_EQ(To(1, out).size(), 1u);
  EXPECT_EQ(To(2, out).size(), 1u);
  out.clear();
  rep.OnMessage(At(1), 1, EncodeMessage(AggregateAckMsg{5, 1}), out);
  rep.Tick(At(100), out);  // only the deputy has not acknowledged
  EXPECT_TRUE(To(1, out).empty());
  EXPECT_EQ(To(2, out).size(), 1u);
  rep.OnMessage(At(101), 2, EncodeMessage(AggregateAckMsg{5, 1}), out);
  EXPECT_EQ(rep.NextDeadline(), At(2100));
  // The supervisor dies: the deputy succeeds it, with the table it already holds; the new
  // deputy is sent the aggregate at once, the new supervisor is not sent it again.
  out.clear();
  rep.SetKeepers(At(200), {2, 1}, {4, 1}, out);
  EXPECT_TRUE(To(2, out).empty());
  EXPECT_EQ(To(4, out).size(), 1u);
  // The supervisor restarts as a new incarnation: it holds nothing, so it is sent again.
  rep.OnMessage(At(201), 4, EncodeMessage(AggregateAckMsg{5, 1}), out);
  out.clear();
  rep.SetKeepers(At(300), {2, 2}, {4, 1}, out);
  EXPECT_EQ(To(2, out).size(), 1u);
  EXPECT_TRUE(To(4, out).empty());

  RepresentationCore deputy({.self = 2, .incarnation = 7});
  deputy.SetKeepers(At(0), {1, 1}, {2, 7}, out);
  out.clear();
  deputy.OnMessage(At(1), 3, EncodeMessage(AggregateMsg{5, 1, Up(4)}), out);
  EXPECT_EQ(To(3, out).size(), 1u);
  EXPECT_EQ(deputy.received().at(3).aggregate, Up(4));
}

// Found in review: a node that was only another's member, then also a keeper itself, kept
// refreshing the other keeper; one whose keeper status flickers keeps its table.
TEST(Representation, RefreshGoesOnAndATableSurvivesAFlicker) {
  RepresentationCore rep({.self = 2, .incarnation = 5});
  Outputs out;
  rep.SetOwn(At(0), Up(4), out);
  rep.SetKeepers(At(0), {1, 1}, {}, out);
  rep.OnMessage(At(1), 1, EncodeMessage(AggregateAckMsg{5, 1}), out);
  EXPECT_EQ(rep.NextDeadline(), At(2000));
  rep.SetKeepers(At(10), {1, 1}, {2, 5}, out);  // now the deputy too
  EXPECT_EQ(rep.NextDeadline(), At(2000));
  rep.OnMessage(At(20), 3, EncodeMessage(AggregateMsg{8, 1, Up(3)}), out);
  rep.SetKeepers(At(30), {1, 1}, {3, 8}, out);  // not a keeper for a moment
  rep.SetKeepers(At(40), {1, 1}, {2, 5}, out);
  EXPECT_EQ(rep.received().count(3), 1u);
}

TEST(Representation, AMemberKeepsNoTableAndDropsAggregates) {
  RepresentationCore rep({.self = 2, .incarnation = 5});
  Outputs out;
  rep.SetKeepers(At(0), {1, 1}, {}, out);
  rep.OnMessage(At(1), 3, EncodeMessage(AggregateMsg{5, 1, Up(3)}), out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(rep.received().empty());
}

}  // namespace
}  // namespace cohort::hierarchy
