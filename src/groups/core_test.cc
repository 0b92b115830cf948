#include "groups/core.h"

#include <gtest/gtest.h>

#include "groups/harness.h"

namespace cohort::groups {
namespace {

using harness::Harness;

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Node 1 coordinates; providers on nodes 1 and 2 (local 1), a subscriber on node 3.
Harness ThreeMembers(bool default_approve = true) {
  Harness h(3);
  h.Join(1, 1, Role::kProvider, default_approve);
  h.Join(2, 1);
  h.Join(3, 1, Role::kSubscriber);
  h.told.clear();
  return h;
}

std::vector<Change> StateChanges(const Harness& h) {
  std::vector<Change> v;
  for (const auto& [n, note] : h.Told<Notify>()) {
    if (note.change.kind == ChangeKind::kState) v.push_back(note.change);
  }
  return v;
}

TEST(GroupsCore, JoinsCommitInOneOrderEverywhere) {
  Harness h = ThreeMembers();
  const GroupRecord r = h.Stored();
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(r.members.size(), 3u);
  EXPECT_EQ(r.owner, 1);
}

TEST(GroupsCore, AnApprovedProposalCommitsAtEveryMemberWithItsToken) {
  Harness h = ThreeMembers();
  const RequestId id = h.Propose(2, 1, "v1");
  EXPECT_EQ(h.asks_.size(), 2u);  // both providers, not the subscriber
  h.VoteAll(true);
  const auto changes = StateChanges(h);
  ASSERT_EQ(changes.size(), 3u);  // every member, the subscriber too
  for (const Change& c : changes) {
    EXPECT_EQ(c.version, 4u);
    EXPECT_EQ(c.value, B("v1"));
    EXPECT_EQ(c.token, h.store.at("g").first);  // the registry revision that decided it
  }
  const auto outcomes = h.Told<Outcome>();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].second.request, id);
  EXPECT_FALSE(outcomes[0].second.outcome.reason);
  EXPECT_EQ(h.Stored().state, B("v1"));
}

TEST(GroupsCore, OneRejectAbortsItEverywhereAndTheAbortIsRecorded) {
  Harness h = ThreeMembers();
  const RequestId id = h.Propose(2, 1, "v1");
  h.VoteAll(false);
  EXPECT_TRUE(StateChanges(h).empty());
  const auto outcomes = h.Told<Outcome>();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].second.outcome.reason, AbortReason::kRejected);
  const GroupRecord r = h.Stored();
  EXPECT_EQ(r.version, 3u);
  EXPECT_EQ(r.recent.back().request, id);
  EXPECT_EQ(r.recent.back().reason, AbortReason::kRejected);
}

TEST(GroupsCore, ASilentProviderTakesTheGroupsDefaultVote) {
  for (bool default_approve : {true, false}) {
    Harness h = ThreeMembers(default_approve);
    h.Propose(2, 1, "v1");
    h.asks_.clear();  // nobody answers
    h.Advance(Duration::Millis(400));
    EXPECT_TRUE(h.Told<Outcome>().empty());
    h.Advance(Duration::Millis(200));  // past the 500 ms vote timeout
    const auto outcomes = h.Told<Outcome>();
    ASSERT_EQ(outcomes.size(), 1u) << default_approve;
    EXPECT_EQ(!outcomes[0].second.outcome.reason, default_approve);
  }
}

TEST(GroupsCore, AProviderWhoseNodeGoesDownMidVoteTakesTheDefaultVote) {
  Harness h = ThreeMembers(/*default_approve=*/false);
  h.Propose(1, 1, "v1");
  ASSERT_EQ(h.asks_.size(), 2u);
  h.asks_.clear();
  h.View(1, 1, NodeView{{1, 100}, {3, 300}});  // node 2, a provider's, is down
  const auto outcomes = h.Told<Outcome>();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].second.outcome.reason, AbortReason::kRejected);
  EXPECT_TRUE(StateChanges(h).empty());
}

// Node 2 believes it coordinates and read the registry before node 1 (coordinating for the
// others) created the group. Asked about it, node 2 reads again rather than answering "no
// such group": the proposal commits.
TEST(GroupsCore, AGroupUnknownToTheCoordinatorIsReadBeforeAnythingIsAnswered) {
  Harness h(3);
  h.View(2, 2);
  h.Join(1, 1);
  h.Join(3, 1);
  ASSERT_EQ(h.Stored().members.size(), 2u);
  h.View(3, 2);
  h.told.clear();
  const RequestId id = h.Propose(3, 1, "v1");
  h.VoteAll(true);
  const auto outcomes = h.Told<Outcome>();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].second.request, id);
  EXPECT_FALSE(outcomes[0].second.outcome.reason);
  EXPECT_EQ(h.Stored().state, B("v1"));
  EXPECT_EQ(h.Stored().owner, 2);
}

// A proposal about a group that never existed (only a buggy or forged node sends one) is
// answered after a read, and leaves the name free for the join that creates it.
TEST(GroupsCore, AGroupThatDoesNotExistIsSaidSoAfterAReadAndStaysFree) {
  Harness h(2);
  RequestMsg stray;
  stray.group = "later";
  stray.kind = ChangeKind::kState;
  stray.request = RequestId{2, 200, 77};
  stray.member = MemberId{2, 200, 1};
  stray.value = B("x");
  Outputs out;
  h.core(1).OnMessage(h.now(), 2, Encode(stray), out);
  for (const Output& o : out) {
    if (const auto* r = std::get_if<ReadRecords>(&o)) {
      Outputs next;
      h.core(1).OnRecords(h.now(), r->ticket, std::vector<StoredRecord>{}, next);
      ASSERT_EQ(next.size(), 1u);  // the answer to node 2
      const auto answer = Decode(std::get<SendTo>(next[0]).bytes);
      ASSERT_TRUE(answer && std::holds_alternative<OutcomeMsg>(*answer));
      EXPECT_EQ(std::get<OutcomeMsg>(*answer).outcome.reason, AbortReason::kNoGroup);
    }
  }
  EXPECT_TRUE(h.core(1).Led().empty());
  h.Do(2, [&](GroupsCore& c, Outputs& o) {
    c.Join(h.now(), 1, "later", Role::kProvider, true, {}, o);
  });
  EXPECT_EQ(h.store.count("later"), 1u);
}

TEST(GroupsCore, EveryPhaseIsARoundOfVotes) {
  Harness h = ThreeMembers();
  h.Propose(1, 1, "v1", 3);
  for (uint8_t phase = 1; phase <= 3; ++phase) {
    ASSERT_EQ(h.asks_.size(), 2u);
    EXPECT_EQ(h.asks_[0].second.phase, phase);
    EXPECT_TRUE(StateChanges(h).empty()) << "committed before phase " << int(phase);
    h.VoteAll(true);
  }
  EXPECT_EQ(StateChanges(h).size(), 3u);
}

TEST(GroupsCore, OnlyProvidersPropose) {
  Harness h = ThreeMembers();
  h.Propose(3, 1, "v1");  // the subscriber
  const auto outcomes = h.Told<Outcome>();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].second.outcome.reason, AbortReason::kNotProvider);
  EXPECT_EQ(h.Stored().version, 3u);
}

// Node 1 decided and wrote, but its write is still on its way when nodes 2 and 3 move to
// coordinator 2, which writes itself in first: node 1's write fails, nothing commits from it,
// and the request, sent again to node 2, commits there exactly once.
TEST(GroupsCore, ANewCoordinatorFencesTheOldOne) {
  Harness h = ThreeMembers();
  h.hold_writes = true;
  const RequestId id = h.Propose(2, 1, "v1");
  h.VoteAll(true);
  h.View(2, 2);
  h.View(3, 2);
  h.hold_writes = false;
  h.ApplyHeldWrites(2);  // node 2's takeover lands first, then node 1's decision
  h.ApplyHeldWrites(1);
  h.View(1, 2);  // node 1 learns of the new coordinator within its retry period
  EXPECT_TRUE(StateChanges(h).empty());
  EXPECT_EQ(h.Stored().owner, 2);
  h.Advance(Duration::Millis(100));  // node 2 sends its request again, to node 2
  h.VoteAll(true);
  const auto changes = StateChanges(h);
  ASSERT_FALSE(changes.empty());
  for (const Change& c : changes) EXPECT_EQ(c.request, id);
  EXPECT_EQ(h.Stored().state, B("v1"));
  EXPECT_EQ(h.Told<Outcome>().size(), 1u);
}

// Proposals v1 (node 1) and v2 (node 2) both voted: v1's write held, v2 waiting behind it.
void VoteTwoBehindAHeldWrite(Harness& h) {
  h.hold_writes = true;
  h.Propose(1, 1, "v1");
  h.Propose(2, 1, "v2");
  h.VoteAll(true);  // v1 voted: its write is held; v2's votes are asked meanwhile
  ASSERT_EQ(h.asks_.size(), 2u);
  for (const auto& [n, ask] : h.asks_) EXPECT_EQ(ask.version, 5u);  // the version after v1's
  h.VoteAll(true);  // v2 voted: it waits for v1's write
  EXPECT_TRUE(StateChanges(h).empty());
}

// The next request is voted on while the decision before it is written; it is recorded
// once that write lands, on top of it, and each commits once, in order.
TEST(GroupsCore, TheNextVoteOverlapsTheWriteInFlight) {
  Harness h = ThreeMembers();
  ASSERT_NO_FATAL_FAILURE(VoteTwoBehindAHeldWrite(h));
  h.ApplyHeldWrites(1);  // v1 lands, then v2 is written on top of it
  EXPECT_EQ(StateChanges(h).size(), 3u);
  h.ApplyHeldWrites(1);
  std::map<NodeId, std::vector<Bytes>> heard;  // each member's state changes, in order
  for (const auto& [n, note] : h.Told<Notify>()) {
    if (note.change.kind == ChangeKind::kState) heard[n].push_back(note.change.value);
  }
  ASSERT_EQ(heard.size(), 3u);
  for (const auto& [n, values] : heard) EXPECT_EQ(values, (std::vector<Bytes>{B("v1"), B("v2")}));
  EXPECT_EQ(h.Stored().version, 5u);
  EXPECT_EQ(h.Stored().state, B("v2"));
  EXPECT_EQ(h.Told<Outcome>().size(), 2u);
}

// A write lost to another coordinator takes the request voted behind it along: both are
// judged again there, and each commits exactly once.
TEST(GroupsCore, ARequestVotedBehindALostWriteIsDecidedByTheNewCoordinator) {
  Harness h = ThreeMembers();
  ASSERT_NO_FATAL_FAILURE(VoteTwoBehindAHeldWrite(h));
  h.View(2, 2);
  h.View(3, 2);
  h.hold_writes = false;
  h.ApplyHeldWrites(2);  // node 2's takeover lands first, then node 1's decision fails
  h.ApplyHeldWrites(1);
  h.View(1, 2);
  EXPECT_TRUE(StateChanges(h).empty());
  for (int round = 0; round < 4 && h.Stored().version < 5; ++round) {
    h.Advance(Duration::Millis(100));  // both are sent again, to node 2
    h.VoteAll(true);
  }
  std::map<std::string, int> commits;
  for (const Change& c : StateChanges(h)) ++commits[std::string(c.value.begin(), c.value.end())];
  EXPECT_EQ(commits["v1"], 3);
  EXPECT_EQ(commits["v2"], 3);
  EXPECT_EQ(h.Stored().version, 5u);
  EXPECT_EQ(h.Told<Outcome>().size(), 2u);
}

TEST(GroupsCore, ADeadNodesMembersFailOutAndALiveOneHearsItLost) {
  Harness h = ThreeMembers();
  h.View(1, 1, NodeView{{1, 100}, {2, 200}});  // node 3 is alive, but out of the map
  const GroupRecord r = h.Stored();
  EXPECT_EQ(r.members.size(), 2u);
  const auto lost = h.Told<Lost>();
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].first, 3);
  EXPECT_EQ(lost[0].second.why, ChangeKind::kNodeDied);
}

TEST(GroupsCore, AProcessThatDiesLeavesItsGroups) {
  Harness h = ThreeMembers();
  h.Do(2, [&](GroupsCore& c, Outputs& out) { c.ProcessDied(h.now(), 1, out); });
  EXPECT_EQ(h.Stored().members.size(), 2u);
  bool seen = false;
  for (const auto& [n, note] : h.Told<Notify>()) {
    seen = seen || note.change.kind == ChangeKind::kProcessDied;
  }
  EXPECT_TRUE(seen);
  EXPECT_TRUE(h.Told<Lost>().empty());  // the dead are not told
}

TEST(GroupsCore, ACommitLostOnTheWayIsCaughtUp) {
  Harness h = ThreeMembers();
  h.deaf = {3};
  h.Propose(2, 1, "v1");
  h.VoteAll(true);
  h.deaf.clear();
  EXPECT_EQ(h.core(3).Delivered().at("g"), 3u);
  h.Advance(Duration::Seconds(1));  // node 3 checks its groups every second
  EXPECT_EQ(h.core(3).Delivered().at("g"), 4u);
  bool subscriber_heard = false;
  for (const auto& [n, note] : h.Told<Notify>()) {
    subscriber_heard = subscriber_heard || (n == 3 && note.change.value == B("v1"));
  }
  EXPECT_TRUE(subscriber_heard);
}

TEST(GroupsCore, ARequestSentAgainIsAnsweredFromTheRecordNotRunTwice) {
  Harness h = ThreeMembers();
  h.deaf = {2};  // the proposer's node hears neither the vote request nor the commit
  const RequestId id = h.Propose(2, 1, "v1");
  h.asks_.clear();
  h.Advance(Duration::Millis(600));  // node 2's provider takes the default vote (approve)
  h.deaf.clear();
  EXPECT_EQ(h.Stored().version, 4u);
  h.Advance(Duration::Millis(100));  // node 2 sends the request again
  EXPECT_EQ(h.Stored().version, 4u);
  const auto outcomes = h.Told<Outcome>();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].second.request, id);
  EXPECT_EQ(outcomes[0].second.outcome.version, 4u);
}

TEST(GroupsCore, HostileBytesAreCountedAndChangeNothing) {
  Harness h = ThreeMembers();
  Outputs out;
  h.core(1).OnMessage(h.now(), 2, Bytes{1, 2, 3}, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h.core(1).malformed(), 1u);
  // A node speaking for another node's process is ignored.
  RequestMsg forged;
  forged.group = "g";
  forged.kind = ChangeKind::kLeave;
  forged.request = RequestId{3, 300, 99};
  forged.member = MemberId{3, 300, 1};
  h.core(1).OnMessage(h.now(), 2, Encode(forged), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(h.Stored().members.size(), 3u);
}

}  // namespace
}  // namespace cohort::groups
