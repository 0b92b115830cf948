// The registry model: etcd's revision semantics, compare-and-swap, the read-only phase and
// watches from a revision.
#include "registry/memory.h"

#include <gtest/gtest.h>

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
Result<TxnResult> Commit(MemoryRegistry& r, const Txn& t) {
  return Now<TxnResult>([&](Done<TxnResult> d) { r.Commit(t, d); });
}

TEST(MemoryRegistryTest, RevisionsCountEveryCommittedChange) {
  MemoryRegistry r;
  EXPECT_EQ(r.revision(), 1);
  EXPECT_EQ(*Put(r, "/a", "1"), 2);
  EXPECT_EQ(*Put(r, "/b", "1"), 3);
  EXPECT_EQ(*Put(r, "/a", "2"), 4);
  auto a = Get(r, "/a");
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->value, "2");
  EXPECT_EQ((*a)->create_revision, 2);
  EXPECT_EQ((*a)->mod_revision, 4);
  EXPECT_EQ((*a)->version, 2);
  EXPECT_EQ(*Now<int64_t>([&](Done<int64_t> d) { r.Delete("/a", d); }), 1);
  EXPECT_EQ(*Now<int64_t>([&](Done<int64_t> d) { r.Delete("/a", d); }), 0);
  EXPECT_EQ(r.revision(), 5);  // deleting nothing is no change
  EXPECT_FALSE(Get(r, "/a")->has_value());
  // Recreated: a new life, version starts again.
  EXPECT_TRUE(Put(r, "/a", "3"));
  EXPECT_EQ((**Get(r, "/a")).version, 1);
  EXPECT_EQ((**Get(r, "/a")).create_revision, 6);
}

TEST(MemoryRegistryTest, RangeByPrefixInKeyOrderWithALimit) {
  MemoryRegistry r;
  for (const char* k : {"/c/n/2", "/c/n/1", "/c/m", "/d", "/c/n/3"}) EXPECT_TRUE(Put(r, k, "x"));
  auto all = Now<RangeResult>([&](Done<RangeResult> d) { r.Range("/c/n/", 0, false, d); });
  ASSERT_TRUE(all);
  ASSERT_EQ(all->kvs.size(), 3u);
  EXPECT_EQ(all->kvs[0].key, "/c/n/1");
  EXPECT_EQ(all->kvs[2].key, "/c/n/3");
  EXPECT_FALSE(all->more);
  auto two = Now<RangeResult>([&](Done<RangeResult> d) { r.Range("/c/", 2, false, d); });
  EXPECT_EQ(two->kvs.size(), 2u);
  EXPECT_TRUE(two->more);
}

TEST(MemoryRegistryTest, CompareAndSwapLetsOnlyTheCurrentWriterWin) {
  MemoryRegistry r;
  // Create only if absent.
  const Txn create{{{"/map", Compare::Target::kCreateRevision, Compare::Op::kEqual, "", 0}},
                   {{RequestOp::Kind::kPut, "/map", "v1", false}},
                   {{RequestOp::Kind::kGet, "/map", "", false}}};
  auto first = Commit(r, create);
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->succeeded);
  auto again = Commit(r, create);
  EXPECT_FALSE(again->succeeded);
  EXPECT_EQ(again->results.at(0).kvs.at(0).value, "v1");  // the failure branch read it
  // Two supervisors both read mod_revision 2; the first update wins, the stale one fails.
  const int64_t seen = (**Get(r, "/map")).mod_revision;
  auto update = [&](const std::string& v) {
    return Commit(r, Txn{{{"/map", Compare::Target::kModRevision, Compare::Op::kEqual, "", seen}},
                         {{RequestOp::Kind::kPut, "/map", v, false}},
                         {}});
  };
  EXPECT_TRUE(update("v2")->succeeded);
  EXPECT_FALSE(update("v2-stale")->succeeded);
  EXPECT_EQ((**Get(r, "/map")).value, "v2");
  // Value and version comparisons.
  EXPECT_TRUE(Commit(r, Txn{{{"/map", Compare::Target::kValue, Compare::Op::kEqual, "v2", 0},
                             {"/map", Compare::Target::kVersion, Compare::Op::kGreater, "", 1}},
                            {},
                            {}})
                  ->succeeded);
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
