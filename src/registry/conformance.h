// Behaviour every RegistryBackend must show, as GoogleTest checks shared by the model's test
// and the etcd client's test against a real etcd — so the model stays a faithful stand-in.
// Each check works under its own key prefix and only with relative revisions, so one store
// serves them all. Test-only header.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "registry/backend.h"

namespace cohort::registry::conformance {

// Waits (at most 10 s) for a callback that may come from another thread.
template <typename T>
Result<T> Sync(const std::function<void(Done<T>)>& call) {
  auto m = std::make_shared<std::mutex>();
  auto cv = std::make_shared<std::condition_variable>();
  auto got = std::make_shared<std::optional<Result<T>>>();
  call([m, cv, got](Result<T> r) {
    std::lock_guard lock(*m);
    *got = std::move(r);
    cv->notify_all();
  });
  std::unique_lock lock(*m);
  if (!cv->wait_for(lock, std::chrono::seconds(10), [&] { return got->has_value(); })) {
    return Error(Errc::kInternal, "no answer within 10 s");
  }
  return std::move(**got);
}

inline Result<int64_t> Put(RegistryBackend& r, const std::string& k, const std::string& v) {
  return Sync<int64_t>([&](Done<int64_t> d) { r.Put(k, v, d); });
}
inline Result<int64_t> Delete(RegistryBackend& r, const std::string& k) {
  return Sync<int64_t>([&](Done<int64_t> d) { r.Delete(k, d); });
}
inline Result<std::optional<KeyValue>> Get(RegistryBackend& r, const std::string& k,
                                           bool serializable = false) {
  return Sync<std::optional<KeyValue>>(
      [&](Done<std::optional<KeyValue>> d) { r.Get(k, serializable, d); });
}
inline Result<RangeResult> Range(RegistryBackend& r, const std::string& p, size_t limit) {
  return Sync<RangeResult>([&](Done<RangeResult> d) { r.Range(p, limit, false, d); });
}
inline Result<TxnResult> Commit(RegistryBackend& r, const Txn& t) {
  return Sync<TxnResult>([&](Done<TxnResult> d) { r.Commit(t, d); });
}

inline void RevisionsCountEveryCommittedChange(RegistryBackend& r, const std::string& p) {
  auto first = Put(r, p + "a", "1");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*Put(r, p + "b", "1"), *first + 1);
  EXPECT_EQ(*Put(r, p + "a", "2"), *first + 2);
  auto a = Get(r, p + "a");
  ASSERT_TRUE(a && a->has_value());
  EXPECT_EQ((*a)->value, "2");
  EXPECT_EQ((*a)->create_revision, *first);
  EXPECT_EQ((*a)->mod_revision, *first + 2);
  EXPECT_EQ((*a)->version, 2);
  EXPECT_EQ(*Delete(r, p + "a"), 1);
  EXPECT_EQ(*Delete(r, p + "a"), 0);
  EXPECT_FALSE(Get(r, p + "a")->has_value());
  auto again = Put(r, p + "a", "3");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first + 4);  // the delete took one revision, deleting nothing none
  EXPECT_EQ((**Get(r, p + "a")).version, 1);
  EXPECT_EQ((**Get(r, p + "a")).create_revision, *again);
}

inline void RangeByPrefixInKeyOrderWithALimit(RegistryBackend& r, const std::string& p) {
  for (const char* k : {"n/2", "n/1", "m", "n/3"}) ASSERT_TRUE(Put(r, p + k, "x"));
  ASSERT_TRUE(Put(r, p.substr(0, p.size() - 1) + "-other", "x"));
  auto all = Range(r, p + "n/", 0);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->kvs.size(), 3u);
  EXPECT_EQ(all->kvs[0].key, p + "n/1");
  EXPECT_EQ(all->kvs[2].key, p + "n/3");
  EXPECT_FALSE(all->more);
  auto two = Range(r, p, 2);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->kvs.size(), 2u);
  EXPECT_TRUE(two->more);
}

inline void CompareAndSwapLetsOnlyTheCurrentWriterWin(RegistryBackend& r, const std::string& p) {
  const std::string key = p + "map";
  const Txn create{{{key, Compare::Target::kCreateRevision, Compare::Op::kEqual, "", 0}},
                   {{RequestOp::Kind::kPut, key, "v1", false}},
                   {{RequestOp::Kind::kGet, key, "", false}}};
  auto first = Commit(r, create);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(first->succeeded);
  auto again = Commit(r, create);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->succeeded);
  ASSERT_EQ(again->results.size(), 1u);
  ASSERT_EQ(again->results[0].kvs.size(), 1u);
  EXPECT_EQ(again->results[0].kvs[0].value, "v1");
  const int64_t seen = (**Get(r, key)).mod_revision;
  auto update = [&](const std::string& v) {
    return Commit(r, Txn{{{key, Compare::Target::kModRevision, Compare::Op::kEqual, "", seen}},
                         {{RequestOp::Kind::kPut, key, v, false}},
                         {}});
  };
  EXPECT_TRUE(update("v2")->succeeded);
  EXPECT_FALSE(update("v2-stale")->succeeded);
  EXPECT_EQ((**Get(r, key)).value, "v2");
  auto cmp = Commit(r, Txn{{{key, Compare::Target::kValue, Compare::Op::kEqual, "v2", 0},
                            {key, Compare::Target::kVersion, Compare::Op::kGreater, "", 1}},
                           {},
                           {}});
  ASSERT_TRUE(cmp);
  EXPECT_TRUE(cmp->succeeded);
  // A missing key has no value: comparing one fails whatever the operator.
  for (Compare::Op op : {Compare::Op::kEqual, Compare::Op::kNotEqual, Compare::Op::kGreater}) {
    auto missing = Commit(r, Txn{{{p + "absent", Compare::Target::kValue, op, "", 0}}, {}, {}});
    ASSERT_TRUE(missing);
    EXPECT_FALSE(missing->succeeded);
  }
}

// Collects watch events from any thread.
struct Collector {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<WatchEvent> events;
  std::function<void(Result<std::vector<WatchEvent>>)> Sink() {
    return [this](Result<std::vector<WatchEvent>> e) {
      if (!e) return;
      std::lock_guard lock(mu);
      events.insert(events.end(), e->begin(), e->end());
      cv.notify_all();
    };
  }
  std::vector<WatchEvent> WaitFor(size_t n) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return events.size() >= n; });
    return events;
  }
};

inline void WatchReplaysFromARevisionThenFollows(RegistryBackend& r, const std::string& p) {
  auto start = Put(r, p + "w/a", "1");
  ASSERT_TRUE(start);
  ASSERT_TRUE(Put(r, p + "x", "1"));
  ASSERT_TRUE(Put(r, p + "w/b", "1"));
  Collector c;
  auto id = r.Watch(p + "w/", *start + 1, c.Sink());
  ASSERT_TRUE(id) << id.error().message();
  auto seen = c.WaitFor(1);
  ASSERT_GE(seen.size(), 1u);
  EXPECT_EQ(seen[0].kv.key, p + "w/b");
  EXPECT_EQ(seen[0].type, WatchEvent::Type::kPut);
  ASSERT_TRUE(Delete(r, p + "w/a"));
  ASSERT_TRUE(Put(r, p + "x", "2"));
  seen = c.WaitFor(2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(seen[1].kv.key, p + "w/a");
  EXPECT_EQ(seen[1].kv.mod_revision, *start + 3);
  r.CancelWatch(*id);
}

// A key put with a lease goes when the lease is revoked; a revoked lease cannot be renewed
// nor written with.
inline void LeasedKeysGoWithTheirLease(RegistryBackend& r, const std::string& p) {
  auto lease = Sync<LeaseGrant>([&](Done<LeaseGrant> d) { r.GrantLease(5, d); });
  ASSERT_TRUE(lease) << lease.error().message();
  EXPECT_GE(lease->ttl_seconds, 5);
  const Txn own{{{p + "owner", Compare::Target::kCreateRevision, Compare::Op::kEqual, "", 0}},
                {{RequestOp::Kind::kPut, p + "owner", "me", false, lease->id}},
                {}};
  auto put = Commit(r, own);
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_TRUE(put->succeeded);
  ASSERT_TRUE(Put(r, p + "plain", "x"));
  auto kv = Get(r, p + "owner");
  ASSERT_TRUE(kv && kv->has_value());
  EXPECT_EQ((*kv)->lease, lease->id);
  auto kept = Sync<int64_t>([&](Done<int64_t> d) { r.KeepLease(lease->id, d); });
  ASSERT_TRUE(kept) << kept.error().message();
  EXPECT_GE(*kept, 5);
  ASSERT_TRUE(Sync<Ok>([&](Done<Ok> d) { r.RevokeLease(lease->id, d); }));
  EXPECT_FALSE(Get(r, p + "owner")->has_value());
  EXPECT_TRUE(Get(r, p + "plain")->has_value());
  auto gone = Sync<int64_t>([&](Done<int64_t> d) { r.KeepLease(lease->id, d); });
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), Errc::kNotFound);
  EXPECT_FALSE(Commit(r, own));  // a put with a lease that is gone is refused
  EXPECT_TRUE(Sync<Ok>([&](Done<Ok> d) { r.RevokeLease(lease->id, d); }));  // gone already
}

}  // namespace cohort::registry::conformance
