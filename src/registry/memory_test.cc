// The registry model: etcd's revision semantics, compare-and-swap, the read-only phase and
// watches from a revision.
#include "registry/memory.h"

#include <gtest/gtest.h>

#include "registry/conformance.h"
#include "registry/guard.h"

namespace cohort::registry {
namespace {

// Calls that answer at once (the model always does) as plain values.
template <typename T>
Result<T> Now(const std::function<void(Done<T>)>& call) {
  std::optional<Result<T>> got;
  call([&](Result<T> r) { got = std::move(r); });
  EXPECT_TRUE(got.has_value()) << "the model must answer before returning";
  return got ? std::move(*got) : Result<T>(Error(Errc::kInternal, "no answer"));
}

Result<int64_t> Put(MemoryRegistry& r, const std::string& k, const std::string& v) {
  return Now<int64_t>([&](Done<int64_t> d) { r.Put(k, v, d); });
}
Result<std::optional<KeyValue>> Get(MemoryRegistry& r, const std::string& k, bool ser = false) {
  return Now<std::optional<KeyValue>>([&](Done<std::optional<KeyValue>> d) { r.Get(k, ser, d); });
}

// The checks the etcd client also passes against a real etcd (etcd_test.cc).
TEST(MemoryRegistryTest, Conformance) {
  MemoryRegistry r;
  EXPECT_EQ(r.revision(), 1);  // an empty store, as etcd's
  conformance::RevisionsCountEveryCommittedChange(r, "/t1/");
  conformance::RangeByPrefixInKeyOrderWithALimit(r, "/t2/");
  conformance::CompareAndSwapLetsOnlyTheCurrentWriterWin(r, "/t3/");
  conformance::WatchReplaysFromARevisionThenFollows(r, "/t4/");
  conformance::LeasedKeysGoWithTheirLease(r, "/t5/");
}

TEST(MemoryRegistryTest, ReadOnlyPhaseRefusesWritesButServesSerializableReads) {
  MemoryRegistry r({1, 2, 3});
  EXPECT_TRUE(Put(r, "/k", "v"));
  r.SetLeader(kNoNode);
  auto status = Now<RegistryStatus>([&](Done<RegistryStatus> d) { r.Status(d); });
  EXPECT_EQ(status->phase, Phase::kReadOnly);
  auto put = Put(r, "/k", "w");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code(), Errc::kUnavailable);
  EXPECT_NE(put.error().message().find("read-only"), std::string::npos);
  EXPECT_FALSE(Get(r, "/k", false));             // linearizable: needs a leader
  EXPECT_EQ((**Get(r, "/k", true)).value, "v");  // serializable: answered
  r.SetLeader(2);
  status = Now<RegistryStatus>([&](Done<RegistryStatus> d) { r.Status(d); });
  EXPECT_EQ(status->phase, Phase::kReadWrite);
  EXPECT_EQ(status->leader, 2);
  EXPECT_EQ(status->term, 2u);
  EXPECT_EQ(status->servers, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_TRUE(Put(r, "/k", "w"));
}

TEST(MemoryRegistryTest, WatchReplaysFromARevisionThenFollows) {
  MemoryRegistry r({1}, 4);
  EXPECT_TRUE(Put(r, "/w/a", "1"));  // rev 2
  EXPECT_TRUE(Put(r, "/x", "1"));    // rev 3
  EXPECT_TRUE(Put(r, "/w/b", "1"));  // rev 4
  std::vector<WatchEvent> seen;
  auto id = r.Watch("/w/", 3, [&](Result<std::vector<WatchEvent>> e) {
    ASSERT_TRUE(e);
    seen.insert(seen.end(), e->begin(), e->end());
  });
  ASSERT_TRUE(id);
  ASSERT_EQ(seen.size(), 1u);  // /w/b at 4; /w/a at 2 is before the start
  EXPECT_EQ(seen[0].kv.key, "/w/b");
  EXPECT_TRUE(Now<int64_t>([&](Done<int64_t> d) { r.Delete("/w/a", d); }));  // rev 5
  EXPECT_TRUE(Put(r, "/x", "2"));                                            // not under /w/
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(seen[1].kv.mod_revision, 5);
  r.CancelWatch(*id);
  EXPECT_TRUE(Put(r, "/w/c", "1"));
  EXPECT_EQ(seen.size(), 2u);
  // History keeps 4 events: revision 2 is gone.
  auto old = r.Watch("/w/", 2, [](Result<std::vector<WatchEvent>>) {});
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), Errc::kNotFound);
  EXPECT_NE(old.error().message().find("compacted"), std::string::npos);
}

TEST(MemoryRegistryTest, AWatcherMayWriteAndCancelFromItsCallback) {
  MemoryRegistry r;
  int calls = 0;
  WatchId id = 0;
  auto w = r.Watch("/a", 0, [&](Result<std::vector<WatchEvent>>) {
    ++calls;
    r.CancelWatch(id);
    EXPECT_TRUE(Put(r, "/a", "again"));  // no longer watched: no recursion
  });
  ASSERT_TRUE(w);
  id = *w;
  EXPECT_TRUE(Put(r, "/a", "1"));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((**Get(r, "/a")).value, "again");
}

}  // namespace
}  // namespace cohort::registry

namespace cohort::registry {
namespace {

TEST(PhaseGuardTest, ReadOnlyPhaseFailsWritesFastAndStillServesLocalReads) {
  MemoryRegistry model;
  model.SetLeader(1);
  PhaseGuard guard(model);
  guard.SetPhase(Phase::kReadWrite);
  ASSERT_TRUE(conformance::Put(guard, "/g/k", "v1"));
  guard.SetPhase(Phase::kReadOnly);
  auto w = conformance::Put(guard, "/g/k", "v2");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), Errc::kUnavailable);
  EXPECT_NE(w.error().message().find("read-only"), std::string::npos);
  auto local = conformance::Sync<std::optional<KeyValue>>(
      [&](Done<std::optional<KeyValue>> d) { guard.Get("/g/k", true, d); });
  ASSERT_TRUE(local);
  EXPECT_EQ((*local)->value, "v1");  // the write refused above never reached the store
  auto strict = conformance::Sync<std::optional<KeyValue>>(
      [&](Done<std::optional<KeyValue>> d) { guard.Get("/g/k", false, d); });
  EXPECT_FALSE(strict);
  guard.SetPhase(Phase::kReadWrite);
  EXPECT_TRUE(conformance::Put(guard, "/g/k", "v3"));
}

}  // namespace
}  // namespace cohort::registry
