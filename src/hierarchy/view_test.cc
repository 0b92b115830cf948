#include "hierarchy/view.h"

#include <gtest/gtest.h>

#include "transport/messages.h"

namespace cohort::hierarchy {
namespace {

using membership::MemberState;

Instant At(int64_t ms) { return Instant::FromNanos(1'000'000'000 + ms * 1'000'000); }

LevelView Level(NodeId supervisor, uint64_t version, uint32_t up) {
  LevelView v;
  v.supervisor = supervisor;
  v.version = version;
  Aggregate a;
  a.members = 4;
  a.members_up = up;
  a.unlisted.ok = 2;
  v.members.push_back({1, MemberState::kUp, 11, a});
  v.members.push_back({2, MemberState::kFailed, 12, std::nullopt});
  v.aggregate = a;
  return v;
}

membership::ClusterMap Map(NodeId supervisor, std::map<NodeId, MemberState> states) {
  membership::ClusterMap map;
  map.supervisor = supervisor;
  map.version = 1;
  for (auto [id, state] : states) map.members[id] = {id, state, 1};
  return map;
}

// The views of `out`, by receiver.
std::map<NodeId, ViewMsg> Sent(const membership::Outputs& out) {
  std::map<NodeId, ViewMsg> got;
  for (const auto& o : out) {
    const auto* s = std::get_if<membership::SendTo>(&o);
    if (s == nullptr) continue;
    auto m = DecodeView(s->bytes);
    EXPECT_TRUE(m.has_value());
    if (m && std::holds_alternative<ViewMsg>(*m)) got[s->to] = std::get<ViewMsg>(*m);
  }
  return got;
}

ViewMsg AsView(const wire::Bytes& bytes) {
  auto m = DecodeView(bytes);
  EXPECT_TRUE(m.has_value() && std::holds_alternative<ViewMsg>(*m));
  return m && std::holds_alternative<ViewMsg>(*m) ? std::get<ViewMsg>(*m) : ViewMsg{};
}

wire::Bytes Ack(Incarnation incarnation, uint64_t seq) {
  return EncodeView(ViewAckMsg{incarnation, seq});
}

TEST(ViewMessages, RoundTripAndRefusals) {
  const ViewMessage view = ViewMsg{7, 3, {Level(1, 5, 3), Level(2, 9, 1)}};
  const ViewMessage ack = ViewAckMsg{7, 3};
  for (const ViewMessage& m : {view, ack}) {
    const auto bytes = EncodeView(m);
    EXPECT_EQ(DecodeView(bytes), m);
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_FALSE(DecodeView(longer).has_value());
    EXPECT_FALSE(DecodeView(wire::ByteView(bytes).first(bytes.size() - 1)).has_value());
  }
  EXPECT_EQ(AsView(EncodeView(ViewMsg{})), ViewMsg{});

  // Listed disks are sent counted; members out of order are sent in order, once each.
  ViewMsg listed{1, 1, {Level(1, 1, 1)}};
  listed.levels[0].aggregate->disks.push_back({"d1", DiskState::kFailed, 10, 5});
  std::swap(listed.levels[0].members[0], listed.levels[0].members[1]);
  const ViewMsg back = AsView(EncodeView(listed));
  ASSERT_EQ(back.levels.size(), 1u);
  EXPECT_TRUE(back.levels[0].aggregate->disks.empty());
  EXPECT_EQ(back.levels[0].aggregate->unlisted.failed, 1u);
  EXPECT_EQ(back.levels[0].members[0].id, 1);

  // More levels than the limit are cut at it.
  ViewMsg deep{1, 1, std::vector<LevelView>(kMaxViewLevels + 2, Level(1, 1, 1))};
  EXPECT_EQ(AsView(EncodeView(deep)).levels.size(), kMaxViewLevels);
}

// The largest view (every level at its member limit, every aggregate listing disks) fits
// the byte budget, and the budget fits one message on any path: the nearest level whole,
// farther ones cut to the members that fit, every level's aggregate kept.
TEST(ViewMessages, TheLargestViewFitsEveryPath) {
  static_assert(kMaxViewBytes + 64 <= transport::kMaxMessageOnAnyPath);
  Aggregate a;
  a.members = a.members_up = a.capacity_unknown = UINT32_MAX;
  a.capacity_mbps = a.free_mbps = UINT64_MAX;
  for (int d = 0; d < 3; ++d)
    a.disks.push_back({std::string(kMaxDiskIdBytes, 'a' + d), DiskState::kOk, 9, 1});
  EXPECT_EQ(Encode(Counted(a)).size(), kCountedAggregateBytes);
  LevelView full;
  full.supervisor = 1;
  full.version = UINT64_MAX;
  for (NodeId id = 1; id <= kMaxViewMembers; ++id) {
    full.members.push_back({id, MemberState::kUp, UINT64_MAX, a});
  }
  full.aggregate = a;
  const ViewMsg largest{UINT64_MAX, UINT64_MAX, std::vector<LevelView>(kMaxViewLevels, full)};
  const wire::Bytes bytes = EncodeView(largest);
  EXPECT_LE(bytes.size(), kMaxViewBytes);
  EXPECT_GT(bytes.size(), kMaxViewBytes - 100);  // filled, not cut early
  const ViewMsg back = AsView(bytes);
  ASSERT_EQ(back.levels.size(), kMaxViewLevels);
  EXPECT_EQ(back.levels[0].members.size(), kMaxViewMembers);
  EXPECT_GT(back.levels[1].members.size(), 2000u);
  EXPECT_EQ(back.levels[1].members.front().id, 1);
  for (const LevelView& level : back.levels) {
    ASSERT_TRUE(level.aggregate.has_value());
    EXPECT_EQ(level.aggregate->members, UINT32_MAX);
    // What was cut is said: every level accounts for all its members.
    EXPECT_EQ(level.members.size() + level.omitted, kMaxViewMembers);
  }
  EXPECT_EQ(back.levels[0].omitted, 0);
  EXPECT_GT(back.levels[3].omitted, 0);
  // Sent on down as received, the count of members left out stays whole.
  const ViewMsg again = AsView(EncodeView(back));
  for (const LevelView& level : again.levels) {
    EXPECT_EQ(level.members.size() + level.omitted, kMaxViewMembers);
  }
}

TEST(ViewCore, SupervisorSendsOnChangeUntilAcknowledged) {
  ViewCore core({.self = 1, .incarnation = 5});
  membership::Outputs out;
  core.SetMap(At(0),
              Map(1, {{1, MemberState::kUp},
                      {2, MemberState::kUp},
                      {3, MemberState::kJoining},
                      {4, MemberState::kFailed}}),
              out);
  EXPECT_TRUE(out.empty());  // nothing to send yet
  core.SetDown(At(0), {Level(7, 1, 3)}, out);
  auto sent = Sent(out);
  ASSERT_EQ(sent.size(), 2u);  // up and joining; not the failed node, not itself
  EXPECT_EQ(sent[2], (ViewMsg{5, 1, {Level(7, 1, 3)}}));
  EXPECT_EQ(sent[3].seq, 1u);

  // Node 2 acknowledges; node 3 does not and is sent it again a resend later.
  out.clear();
  core.OnMessage(At(5), 2, Ack(5, 1), out);
  EXPECT_EQ(core.NextDeadline(), At(1000));
  core.Tick(At(1000), out);
  sent = Sent(out);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent.begin()->first, 3);
  out.clear();
  core.OnMessage(At(1005), 3, Ack(4, 1), out);  // another incarnation's: not this one's
  EXPECT_EQ(core.NextDeadline(), At(2000));
  core.OnMessage(At(1006), 3, Ack(5, 1), out);
  EXPECT_EQ(core.NextDeadline(), Instant::Max());  // idle: nothing sent while nothing changes

  // The same view again is not news; a new one within the interval waits for it.
  core.SetDown(At(1010), {Level(7, 1, 3)}, out);
  EXPECT_TRUE(out.empty());
  core.SetDown(At(1300), {Level(7, 2, 2)}, out);
  EXPECT_EQ(Sent(out).size(), 2u);
  out.clear();
  core.SetDown(At(1350), {Level(7, 3, 1)}, out);
  core.SetDown(At(1400), {Level(7, 4, 1)}, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.NextDeadline(), At(1550));
  core.Tick(At(1550), out);
  sent = Sent(out);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[2].levels, std::vector<LevelView>{Level(7, 4, 1)});  // the burst's last
  EXPECT_EQ(sent[2].seq, 4u);
  out.clear();
  core.OnMessage(At(1560), 2, Ack(5, 4), out);
  core.OnMessage(At(1560), 3, Ack(5, 4), out);

  // A member that joins, or restarts with a new incarnation, is sent the view at once.
  auto map = Map(1, {{1, MemberState::kUp},
                     {2, MemberState::kUp},
                     {3, MemberState::kUp},
                     {5, MemberState::kJoining}});
  map.members[3].incarnation = 2;
  core.SetMap(At(2000), map, out);
  sent = Sent(out);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent.count(3), 1u);
  EXPECT_EQ(sent.count(5), 1u);
  EXPECT_EQ(core.metrics().sent, 2u + 1u + 2u + 2u + 2u);

  // Once it no longer supervises, it sends nothing.
  out.clear();
  core.SetMap(At(20'000), Map(2, {{1, MemberState::kUp}, {2, MemberState::kUp}}), out);
  core.SetDown(At(20'000), {Level(7, 5, 4)}, out);
  core.Tick(At(40'000), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(core.NextDeadline(), Instant::Max());
}

TEST(ViewCore, MemberTakesTheNewestFromItsSupervisorOnly) {
  ViewCore core({.self = 2, .incarnation = 1});
  membership::Outputs out;
  core.SetMap(At(0), Map(1, {{1, MemberState::kUp}, {2, MemberState::kUp}}), out);
  EXPECT_TRUE(out.empty());
  core.OnMessage(At(1), 3, EncodeView(ViewMsg{9, 9, {Level(3, 1, 1)}}), out);  // not its sup.
  EXPECT_FALSE(core.received().has_value());
  EXPECT_TRUE(out.empty());
  core.OnMessage(At(2), 1, EncodeView(ViewMsg{5, 2, {Level(1, 2, 2)}}), out);
  core.OnMessage(At(3), 1, EncodeView(ViewMsg{5, 1, {Level(1, 1, 1)}}), out);  // late
  core.OnMessage(At(4), 1, wire::Bytes{1, 2, 3}, out);                         // not a view
  // Both copies acknowledged, the late one too.
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<membership::SendTo>(out[0]).bytes, Ack(5, 2));
  EXPECT_EQ(std::get<membership::SendTo>(out[1]).bytes, Ack(5, 1));
  out.clear();
  ASSERT_TRUE(core.received().has_value());
  EXPECT_EQ(core.received()->levels, std::vector<LevelView>{Level(1, 2, 2)});
  EXPECT_EQ(core.received()->at, At(2));
  EXPECT_EQ(core.metrics().stale, 1u);
  EXPECT_EQ(core.metrics().ignored, 2u);

  // A successor supervisor's view replaces it; the old supervisor's is no longer taken.
  core.SetMap(At(10), Map(3, {{2, MemberState::kUp}, {3, MemberState::kUp}}), out);
  EXPECT_EQ(core.received()->from, 1);  // kept until the new one sends
  core.OnMessage(At(11), 1, EncodeView(ViewMsg{5, 3, {Level(1, 3, 3)}}), out);
  core.OnMessage(At(12), 3, EncodeView(ViewMsg{8, 1, {Level(3, 1, 4)}}), out);
  EXPECT_EQ(core.received()->from, 3);
  EXPECT_EQ(core.received()->levels, std::vector<LevelView>{Level(3, 1, 4)});
}

}  // namespace
}  // namespace cohort::hierarchy
