// The node definition protocol (C7) driven against the registry model with the real schema
// transactions, and a failure injected at every step: each run ends with both definitions
// or, once the leftovers' own cleanup has run, with neither.
#include "dcm/define_protocol.h"

#include <gtest/gtest.h>

#include "dcm/identity.h"
#include "dcm/schema.h"
#include "registry/conformance.h"
#include "registry/memory.h"

namespace cohort::dcm {
namespace {

using registry::MemoryRegistry;
using registry::conformance::Commit;
using Kind = NodeDefine::Kind;

constexpr const char* kCluster = "c0ffee";
constexpr int64_t kNow = 1'000'000;
constexpr int64_t kPendingMs = 60'000;

enum class Fault {
  kNone,
  kAsk,                 // the node does not answer
  kRead,                // the registry cannot be read
  kWrite,               // the registry refuses the pending definition
  kRaceOnce,            // another definition takes the number between read and write
  kCommit,              // the node fails to commit
  kCommitReplyLost,     // the node commits, its answer is lost
  kConfirm,             // the registry is lost before the confirmation
  kConfirmAndRemove,    // ... and stays lost for the rollback
  kConfirmRemoveAbort,  // ... and the node does not answer the abort either
};

struct Target {
  std::string uid = "target-uid";
  std::optional<DefinedNode> local;  // its local definition of the cluster
};

int64_t last_read = 0;  // the revision ReadNodes last read at
constexpr int64_t kAnyRevision = int64_t{1} << 40;

std::vector<DefinedNode> ReadNodes(MemoryRegistry& r) {
  std::vector<DefinedNode> out;
  registry::RangeResult range;
  r.Range(schema::NodesPrefix(kCluster), 0, false, [&](Result<registry::RangeResult> got) {
    ASSERT_TRUE(got);
    range = *got;
  });
  last_read = range.revision;
  for (const auto& kv : range.kvs) out.push_back(*schema::ParseNodeDefinition(kv));
  return out;
}

std::string Doc(const NodeDefine::Action& a, int64_t pending_until) {
  nlohmann::json doc{{"id", a.number}, {"name", a.name}, {"uid", a.uid}};
  if (pending_until != 0) doc["pending_until_ms"] = pending_until;
  return schema::Document(doc);
}

// Runs one definition to its end and returns the final action.
NodeDefine::Action RunDefine(MemoryRegistry& r, Target& t, NodeDefineRequest request, Fault fault) {
  NodeDefine p(std::move(request));
  NodeDefine::Action a = p.Start();
  bool raced = false;
  const Error lost(Errc::kTimeout, "timed out");
  for (int steps = 0; a.kind != Kind::kFinish && steps < 50; ++steps) {
    switch (a.kind) {
      case Kind::kAskTarget:
        if (fault == Fault::kAsk) {
          a = p.OnTargetAnswer(lost);
        } else {
          TargetAnswer answer{t.uid, std::nullopt, ""};
          if (t.local) answer = {t.uid, t.local->number, t.local->uid};
          a = p.OnTargetAnswer(answer);
        }
        break;
      case Kind::kReadNodes:
        a = fault == Fault::kRead ? p.OnNodesRead(lost) : p.OnNodesRead(ReadNodes(r));
        break;
      case Kind::kWriteGlobal: {
        if (fault == Fault::kWrite) {
          a = p.OnGlobalWritten(lost);
          break;
        }
        if (fault == Fault::kRaceOnce && !raced) {
          raced = true;  // someone else's node takes the number first
          NodeDefine::Action other = a;
          other.uid = "someone-else";
          EXPECT_TRUE(Commit(r, schema::DefinePending(kCluster, a.number, Doc(other, 0), other.uid,
                                                      {}, kAnyRevision)));
        }
        auto w = Commit(r, schema::DefinePending(kCluster, a.number, Doc(a, kNow + kPendingMs),
                                                 a.uid, a.stale, last_read));
        a = p.OnGlobalWritten(w->succeeded ? std::optional<int64_t>(w->revision) : std::nullopt);
        break;
      }
      case Kind::kCommitTarget:
        if (fault == Fault::kCommit) {
          a = p.OnTargetCommitted(Error(Errc::kIo, "disk full"));
          break;
        }
        t.local = DefinedNode{a.number, a.uid, a.name};
        a = p.OnTargetCommitted(fault == Fault::kCommitReplyLost ? Status(lost) : OkStatus());
        break;
      case Kind::kConfirmGlobal:
        if (fault >= Fault::kConfirm) {
          a = p.OnGlobalConfirmed(lost);
        } else {
          a = p.OnGlobalConfirmed(
              Commit(r, schema::ConfirmDefinition(kCluster, a.number, Doc(a, 0), a.revision))
                  ->succeeded);
        }
        break;
      case Kind::kRemoveGlobal:
        if (fault >= Fault::kConfirmAndRemove) {
          a = p.OnGlobalRemoved(lost);
        } else {
          a = p.OnGlobalRemoved(
              Commit(r, schema::RemoveNode(kCluster, a.number, a.uid, a.revision))->succeeded);
        }
        break;
      case Kind::kAbortTarget:
        if (fault == Fault::kConfirmRemoveAbort) {
          a = p.OnTargetAborted(lost);
        } else {
          t.local.reset();
          a = p.OnTargetAborted(OkStatus());
        }
        break;
      case Kind::kFinish:
        break;
    }
  }
  EXPECT_TRUE(p.finished());
  return a;
}

const DefinedNode* Find(const std::vector<DefinedNode>& nodes, const std::string& uid) {
  for (const auto& n : nodes) {
    if (n.uid == uid) return &n;
  }
  return nullptr;
}

// What the leftovers' own cleanup does: the supervisor's sweep of expired pending
// definitions, then the node's reconciliation at its next join (C8).
void CleanUpLeftovers(MemoryRegistry& r, Target& t) {
  for (const auto& n : SweepablePending(ReadNodes(r), kNow + kPendingMs + 1, {})) {
    ASSERT_TRUE(Commit(r, schema::RemoveNode(kCluster, n.number, n.uid, n.revision))->succeeded);
  }
  if (t.local) {
    const std::vector<DefinedNode> nodes = ReadNodes(r);
    const DefinedNode* global = Find(nodes, t.uid);
    IdentityFacts facts{t.uid, t.local->uid,
                        global ? std::optional<std::string>(global->uid) : std::nullopt,
                        t.local->number, std::nullopt};
    if (DecideIdentity(facts) == IdentityAction::kCleanUpLocal) t.local.reset();
  }
}

MemoryRegistry ClusterOfTwo() {
  MemoryRegistry r;
  r.SetLeader(1);
  for (NodeId n : {1, 2}) {
    NodeDefine::Action a{Kind::kWriteGlobal};
    a.number = n;
    a.uid = "member-" + std::to_string(n);
    a.name = "n" + std::to_string(n);
    EXPECT_TRUE(Commit(r, schema::DefinePending(kCluster, n, Doc(a, 0), a.uid, {}, kAnyRevision))
                    ->succeeded);
  }
  return r;
}

TEST(NodeDefine, DefinesBothCopiesWithTheLowestFreeNumber) {
  MemoryRegistry r = ClusterOfTwo();
  Target t;
  auto done = RunDefine(r, t, {"media", std::nullopt, ""}, Fault::kNone);
  ASSERT_TRUE(done.ok) << done.message;
  EXPECT_EQ(done.number, 3);
  const std::vector<DefinedNode> nodes = ReadNodes(r);
  const DefinedNode* global = Find(nodes, t.uid);
  ASSERT_NE(global, nullptr);
  EXPECT_EQ(global->number, 3);
  EXPECT_EQ(global->name, "n3");
  EXPECT_EQ(global->pending_until_ms, 0);
  ASSERT_TRUE(t.local);
  EXPECT_EQ(t.local->number, 3);
  // Asked again: already defined, nothing changes.
  auto again = RunDefine(r, t, {"media", std::nullopt, ""}, Fault::kNone);
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.code, Errc::kAlreadyExists);
  EXPECT_EQ(ReadNodes(r).size(), 3u);
}

TEST(NodeDefine, EveryInjectedFailureLeavesNoDefinitionBehind) {
  for (Fault fault :
       {Fault::kAsk, Fault::kRead, Fault::kWrite, Fault::kCommit, Fault::kCommitReplyLost,
        Fault::kConfirm, Fault::kConfirmAndRemove, Fault::kConfirmRemoveAbort}) {
    SCOPED_TRACE(static_cast<int>(fault));
    MemoryRegistry r = ClusterOfTwo();
    Target t;
    auto done = RunDefine(r, t, {"media", 7, "edge"}, fault);
    EXPECT_FALSE(done.ok);
    EXPECT_FALSE(done.message.empty());
    // Rolled back at once where the registry and the node still answer ...
    if (fault < Fault::kConfirmAndRemove) {
      EXPECT_EQ(Find(ReadNodes(r), t.uid), nullptr);
    }
    if (fault < Fault::kConfirmRemoveAbort) {
      EXPECT_FALSE(t.local);
    }
    // ... and by the leftovers' own cleanup where they do not.
    CleanUpLeftovers(r, t);
    EXPECT_EQ(Find(ReadNodes(r), t.uid), nullptr);
    EXPECT_FALSE(t.local);
    EXPECT_EQ(ReadNodes(r).size(), 2u);
    // The claim went with the definition: the machine can be defined again.
    auto retry = RunDefine(r, t, {"media", 7, "edge"}, Fault::kNone);
    EXPECT_TRUE(retry.ok) << retry.message;
  }
}

TEST(NodeDefine, ARaceForTheNumberIsReadAgainAndAnAskedNumberIsNeverTaken) {
  MemoryRegistry r = ClusterOfTwo();
  Target t;
  auto done = RunDefine(r, t, {"media", std::nullopt, ""}, Fault::kRaceOnce);
  ASSERT_TRUE(done.ok) << done.message;
  EXPECT_EQ(done.number, 4);  // 3 went to the other definition meanwhile
  Target other{"third-machine", std::nullopt};
  auto taken = RunDefine(r, other, {"media", 2, ""}, Fault::kNone);
  EXPECT_FALSE(taken.ok);
  EXPECT_EQ(taken.code, Errc::kAlreadyExists);
  EXPECT_NE(taken.message.find("node number 2"), std::string::npos);
}

TEST(NodeDefine, AStaleDefinitionOfTheMachineIsReplacedInOneTransaction) {
  MemoryRegistry r = ClusterOfTwo();
  // The machine was node 2 once; its local copy is gone (reinstalled), and it is defined
  // again as node 5: node 2's definition goes in the same transaction.
  Target t{"member-2", std::nullopt};
  auto done = RunDefine(r, t, {"media", 5, ""}, Fault::kNone);
  ASSERT_TRUE(done.ok) << done.message;
  const auto nodes = ReadNodes(r);
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(Find(nodes, "member-2")->number, 5);
}

TEST(NodeDefine, ALiveOrPendingDefinitionOfTheMachineIsNotReplaced) {
  NodeDefine up({"media", std::nullopt, ""});
  up.Start();
  up.OnTargetAnswer(TargetAnswer{"member-2", std::nullopt, ""});
  DefinedNode running{2, "member-2", "n2", 9, 0};
  running.up = true;
  auto refused = up.OnNodesRead(std::vector<DefinedNode>{running});
  EXPECT_EQ(refused.kind, Kind::kFinish);
  EXPECT_EQ(refused.code, Errc::kAlreadyExists);
  NodeDefine pending({"media", std::nullopt, ""});
  pending.Start();
  pending.OnTargetAnswer(TargetAnswer{"member-2", std::nullopt, ""});
  auto busy = pending.OnNodesRead(std::vector<DefinedNode>{{2, "member-2", "n2", 9, kNow}});
  EXPECT_EQ(busy.kind, Kind::kFinish);
  EXPECT_NE(busy.message.find("under way"), std::string::npos);
}

TEST(IdentitySchema, TwoDefinitionsOfOneMachineCannotBothClaimIt) {
  MemoryRegistry r = ClusterOfTwo();
  ReadNodes(r);
  const int64_t read = last_read;
  NodeDefine::Action a{Kind::kWriteGlobal};
  a.uid = "same-machine";
  a.number = 5;
  EXPECT_TRUE(
      Commit(r, schema::DefinePending(kCluster, 5, Doc(a, kNow), a.uid, {}, read))->succeeded);
  a.number = 6;  // another member, same read, another number
  EXPECT_FALSE(
      Commit(r, schema::DefinePending(kCluster, 6, Doc(a, kNow), a.uid, {}, read))->succeeded);
}

TEST(SweepablePending, OnlyExpiredAndNotUp) {
  std::vector<DefinedNode> nodes = {{1, "a", "n1", 10, 0},
                                    {2, "b", "n2", 11, 500},
                                    {3, "c", "n3", 12, 2000},
                                    {4, "d", "n4", 13, 500}};
  auto swept = SweepablePending(nodes, 1000, {4});
  ASSERT_EQ(swept.size(), 1u);
  EXPECT_EQ(swept[0].number, 2);
}

}  // namespace
}  // namespace cohort::dcm
