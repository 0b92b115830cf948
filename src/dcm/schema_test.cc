#include "dcm/schema.h"

#include <gtest/gtest.h>

#include "registry/conformance.h"
#include "registry/memory.h"

namespace cohort::dcm::schema {
namespace {

using registry::MemoryRegistry;
using registry::conformance::Commit;
using registry::conformance::Get;

TEST(SchemaTest, TheFirstDefinitionOfANameWinsAndEveryoneAdoptsIt) {
  MemoryRegistry r;
  r.SetLeader(1);
  auto first = Commit(r, DefineCluster("media", "aaaa"));
  ASSERT_TRUE(first);
  EXPECT_EQ(*ClusterIdOf(*first, "aaaa"), "aaaa");
  auto second = Commit(r, DefineCluster("media", "bbbb"));
  ASSERT_TRUE(second);
  EXPECT_EQ(*ClusterIdOf(*second, "bbbb"), "aaaa");
  auto def = Get(r, ClusterKey("aaaa"));
  ASSERT_TRUE(def && *def);
  EXPECT_NE((**def).value.find("\"schema\":1"), std::string::npos);
  EXPECT_FALSE(*Get(r, ClusterKey("bbbb")));
}

// Two offline requests for servers 2 and 3 of three, each checked against no marks: the
// second to commit finds the first's mark on a server it counted and is refused.
TEST(SchemaTest, TwoOfflineMarksAtOnceCannotBothPassTheMajorityCheck) {
  MemoryRegistry r;
  r.SetLeader(1);
  auto second = Commit(r, MarkOffline("aaaa", 2, {1, 3}));
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->succeeded);
  auto third = Commit(r, MarkOffline("aaaa", 3, {1, 2}));
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->succeeded);
  EXPECT_FALSE(*Get(r, OfflineKey("aaaa", 3)));
  // Checked again with 2 marked, 3 would leave 1 of 3: the driver refuses before writing;
  // a mark that counts only unmarked servers goes through.
  auto again = Commit(r, MarkOffline("aaaa", 3, {1}));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->succeeded);
}

std::string Map(uint64_t version, NodeId supervisor) {
  return Document({{"version", version}, {"supervisor", supervisor}});
}

// Sends what the publisher asks for, if anything; true if it asked.
bool Step(MemoryRegistry& r, VersionedPublisher& p, uint64_t version, NodeId supervisor) {
  auto txn = p.Next(version, Map(version, supervisor));
  if (!txn) return false;
  p.OnResult(Commit(r, *txn));
  return true;
}

TEST(VersionedPublisherTest, AStaleSupervisorNeverOverwritesANewerMap) {
  MemoryRegistry r;
  r.SetLeader(1);
  VersionedPublisher old_supervisor(MapKey("c")), new_supervisor(MapKey("c"));
  ASSERT_TRUE(Step(r, old_supervisor, 3, 1));
  EXPECT_EQ(old_supervisor.published(), 3u);
  EXPECT_FALSE(Step(r, old_supervisor, 3, 1));  // nothing new to publish
  // A new supervisor publishes version 7; it first learns the stored revision, then wins.
  ASSERT_TRUE(Step(r, new_supervisor, 7, 2));
  EXPECT_EQ(new_supervisor.published(), 0u);
  ASSERT_TRUE(Step(r, new_supervisor, 7, 2));
  EXPECT_EQ(new_supervisor.published(), 7u);
  // The old supervisor, cut off, still believes in its version 5: refused for good.
  ASSERT_TRUE(Step(r, old_supervisor, 5, 1));
  EXPECT_EQ(old_supervisor.refused(), 1u);
  EXPECT_FALSE(Step(r, old_supervisor, 5, 1));
  auto stored = Get(r, MapKey("c"));
  ASSERT_TRUE(stored && *stored);
  EXPECT_NE((**stored).value.find("\"version\":7"), std::string::npos) << (**stored).value;
  // Once it learns a newer version of its own (it is supervisor again), it may write.
  ASSERT_TRUE(Step(r, old_supervisor, 8, 1));
  EXPECT_EQ(old_supervisor.published(), 8u);
}

TEST(VersionedPublisherTest, AFailedCallIsRetried) {
  MemoryRegistry r;
  r.SetLeader(kNoNode);  // read-only: writes fail
  VersionedPublisher p(MapKey("c"));
  EXPECT_TRUE(Step(r, p, 1, 1));
  EXPECT_EQ(p.published(), 0u);
  r.SetLeader(1);
  EXPECT_TRUE(Step(r, p, 1, 1));
  EXPECT_EQ(p.published(), 1u);
}

IdentityRead Read(MemoryRegistry& r, NodeId node, const std::string& uid) {
  auto got = Commit(r, ReadIdentity("c", node, uid));
  EXPECT_TRUE(got);
  auto read = ParseIdentity(*got);
  EXPECT_TRUE(read) << read.error().message();
  return *read;
}

std::string NodeDoc(NodeId node, const std::string& uid) {
  return Document({{"id", node}, {"uid", uid}});
}

TEST(IdentityTest, ADefinitionClaimsItsUidAndTwoWritersOfOneNumberCannotBothWin) {
  MemoryRegistry r;
  r.SetLeader(1);
  const IdentityRead none = Read(r, 3, "aaaa");
  EXPECT_FALSE(none.global_uid);
  EXPECT_FALSE(none.claimed_by);
  // Two machines configured as node 3 read the same (empty) state; only one write goes in.
  auto first = Commit(r, WriteIdentity("c", 3, NodeDoc(3, "aaaa"), "aaaa", none, ""));
  auto second = Commit(r, WriteIdentity("c", 3, NodeDoc(3, "bbbb"), "bbbb", none, ""));
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->succeeded);
  EXPECT_FALSE(second->succeeded);
  const IdentityRead after = Read(r, 3, "aaaa");
  EXPECT_EQ(after.global_uid, "aaaa");
  EXPECT_EQ(after.claimed_by, NodeId{3});
  // A clone of node 3's machine, configured as node 4, finds the claim.
  EXPECT_EQ(Read(r, 4, "aaaa").claimed_by, NodeId{3});
}

TEST(IdentityTest, AReplacedUidMovesTheClaimAndRemovalTakesEverything) {
  MemoryRegistry r;
  r.SetLeader(1);
  ASSERT_TRUE(
      Commit(r, WriteIdentity("c", 3, NodeDoc(3, "old"), "old", Read(r, 3, "old"), ""))->succeeded);
  ASSERT_TRUE(Commit(r, WriteIdentity("c", 3, NodeDoc(3, "new"), "new", Read(r, 3, "new"), "old"))
                  ->succeeded);
  EXPECT_EQ(Read(r, 3, "new").global_uid, "new");
  EXPECT_FALSE(Read(r, 3, "old").claimed_by);
  const IdentityRead now = Read(r, 3, "new");
  EXPECT_FALSE(Commit(r, RemoveNode("c", 3, "new", now.node_revision - 1))->succeeded);
  ASSERT_TRUE(Commit(r, RemoveNode("c", 3, "new", now.node_revision))->succeeded);
  const IdentityRead gone = Read(r, 3, "new");
  EXPECT_FALSE(gone.global_uid);
  EXPECT_FALSE(gone.claimed_by);
}

TEST(IdentityTest, UndefineTakesTheClaimsNamingTheNodeEvenOfADamagedDefinition) {
  MemoryRegistry r;
  r.SetLeader(1);
  ASSERT_TRUE(Commit(r, WriteIdentity("c", 3, NodeDoc(3, "mine"), "mine", Read(r, 3, "mine"), ""))
                  ->succeeded);
  ASSERT_TRUE(
      Commit(r, WriteIdentity("c", 4, NodeDoc(4, "other"), "other", Read(r, 4, "other"), ""))
          ->succeeded);
  ASSERT_TRUE(registry::conformance::Put(r, NodeKey("c", 3), "{damaged"));
  auto read = Commit(r, ReadNodeRecord("c", 3));
  ASSERT_TRUE(read);
  auto record = ParseNodeRecord(*read, 3);
  ASSERT_TRUE(record);
  ASSERT_TRUE(record->definition);
  ASSERT_EQ(record->claims.size(), 1u);
  // A claim that changes after the read stops the removal.
  NodeRecord stale = *record;
  --stale.claims[0].mod_revision;
  EXPECT_FALSE(Commit(r, RemoveNodeRecord("c", 3, stale))->succeeded);
  ASSERT_TRUE(Commit(r, RemoveNodeRecord("c", 3, *record))->succeeded);
  EXPECT_FALSE(Read(r, 3, "mine").claimed_by);
  EXPECT_FALSE(*Get(r, NodeKey("c", 3)));
  EXPECT_EQ(Read(r, 4, "other").claimed_by, NodeId{4});
}

TEST(IdentityTest, DamagedDocumentsAreErrors) {
  MemoryRegistry r;
  r.SetLeader(1);
  ASSERT_TRUE(Commit(
      r, registry::Txn{
             {}, {{registry::RequestOp::Kind::kPut, NodeKey("c", 3), "{\"uid\": 7}", false}}, {}}));
  auto read = Commit(r, ReadIdentity("c", 3, "x"));
  ASSERT_TRUE(read);
  EXPECT_FALSE(ParseIdentity(*read));
}

}  // namespace
}  // namespace cohort::dcm::schema
