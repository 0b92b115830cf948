#include "groups/messages.h"

#include <gtest/gtest.h>

namespace cohort::groups {
namespace {

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

Change SomeChange() {
  Change c;
  c.version = 7;
  c.token = 4242;
  c.kind = ChangeKind::kState;
  c.member = MemberId{3, 9000, 12};
  c.value = B("config-v2");
  c.request = RequestId{3, 9000, 5};
  return c;
}

std::vector<Message> Samples() {
  RequestMsg join;
  join.group = "ingest";
  join.request = RequestId{2, 1000, 1};
  join.kind = ChangeKind::kJoin;
  join.member = MemberId{2, 1000, 4};
  join.role = Role::kSubscriber;
  join.default_approve = false;
  join.depends = {"storage", "net.core"};
  RequestMsg propose = join;
  propose.kind = ChangeKind::kState;
  propose.value = B("abc");
  propose.phases = 3;
  return {join,
          propose,
          VoteRequestMsg{"ingest", {2, 1000, 1}, 8, 2, B("abc"), {1, 7}},
          VoteReplyMsg{"ingest", {2, 1000, 1}, 2, {4, 77, 1}, Vote::kReject},
          VoteReplyMsg{"ingest", {2, 1000, 1}, 2, {4, 77, 1}, Vote::kAbsent},
          CommitMsg{"storage", SomeChange(), {"ingest"}},
          OutcomeMsg{"ingest", {{2, 1000, 1}, 0, AbortReason::kRejected}},
          OutcomeMsg{"ingest", {{2, 1000, 1}, 9, std::nullopt}},
          CatchUpMsg{"ingest", 3},
          VersionMsg{"ingest", 12},
          SnapshotMsg{"ingest", 9, 5000, B("s"), {{{1, 2, 3}, Role::kProvider}}, {}}};
}

TEST(GroupMessages, EveryKindRoundTrips) {
  for (const Message& m : Samples()) {
    const Bytes b = Encode(m);
    auto back = Decode(b);
    ASSERT_TRUE(back.has_value()) << m.index();
    EXPECT_EQ(*back, m) << m.index();
  }
}

TEST(GroupMessages, EveryTruncationAndTrailingByteIsRefused) {
  for (const Message& m : Samples()) {
    Bytes b = Encode(m);
    for (size_t n = 0; n < b.size(); ++n) {
      EXPECT_FALSE(Decode(ByteView(b.data(), n)).has_value()) << m.index() << " at " << n;
    }
    b.push_back(0);
    EXPECT_FALSE(Decode(b).has_value()) << m.index();
  }
}

TEST(GroupMessages, BadNamesKindsAndCountsAreRefused) {
  RequestMsg r;
  r.group = "has space";
  EXPECT_FALSE(Decode(Encode(r)).has_value());
  r.group = "ok";
  r.kind = ChangeKind::kNodeDied;  // only the coordinator decides a node's death
  EXPECT_FALSE(Decode(Encode(r)).has_value());
  r.kind = ChangeKind::kState;
  r.phases = 0;
  EXPECT_FALSE(Decode(Encode(r)).has_value());
  r.phases = kMaxPhases + 1;
  EXPECT_FALSE(Decode(Encode(r)).has_value());
  // A member count larger than the bytes behind it allocates nothing.
  Bytes b = Encode(SnapshotMsg{"g", 1, 1, {}, {}, {}});
  const size_t count_at = b.size() - 8;  // members count, then the related count
  b[count_at + 3] = 0x7f;
  EXPECT_FALSE(Decode(b).has_value());
  EXPECT_FALSE(Decode(Bytes{99}).has_value());
  EXPECT_FALSE(Decode(Bytes{}).has_value());
}

TEST(GroupRecords, RoundTripAndRefuseGarbage) {
  GroupRecord r;
  r.version = 12;
  r.state = B("state");
  r.members = {{{1, 10, 1}, Role::kProvider}, {{2, 20, 1}, Role::kSubscriber}};
  r.default_approve = false;
  r.depends = {"storage"};
  r.owner = 1;
  r.owner_incarnation = 10;
  r.recent = {{{2, 20, 3}, 12, std::nullopt}, {{2, 20, 4}, 12, AbortReason::kRejected}};
  const Bytes b = EncodeRecord(r);
  ASSERT_EQ(DecodeRecord(b), r);
  for (size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(DecodeRecord(ByteView(b.data(), n)).has_value()) << n;
  }
  Bytes bad = b;
  bad[0] = 2;  // a layout this build does not know
  EXPECT_FALSE(DecodeRecord(bad).has_value());
}

TEST(GroupNames, Bounds) {
  EXPECT_TRUE(ValidName("video-servers.eu_1"));
  EXPECT_FALSE(ValidName(""));
  EXPECT_FALSE(ValidName("a/b"));
  EXPECT_FALSE(ValidName(std::string(kMaxNameBytes + 1, 'a')));
  EXPECT_TRUE(ValidName(std::string(kMaxNameBytes, 'a')));
}

}  // namespace
}  // namespace cohort::groups
