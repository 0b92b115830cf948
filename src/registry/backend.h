// RegistryBackend: the System Registry (SPEC R1–R6) as cohort uses it — get, put, delete,
// range by prefix, transactions with compare-and-swap, watch from a revision, status — with
// etcd's semantics (revisions count every committed change of the whole store; each key has
// create and mod revisions and a version). Two implementations: the etcd client, and
// MemoryRegistry (memory.h), a linearizable model for unit and simulator tests.
//
// Every call answers through its callback exactly once, on the caller's thread (the node's
// loop); the model answers before the call returns. Writes while no leader is reachable fail
// at once with Errc::kUnavailable (the read-only phase of R3); serializable reads are still
// answered from the local copy.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/ids.h"
#include "base/result.h"

namespace cohort::registry {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // changes of this key since it was created
  int64_t lease = 0;    // the lease the key is attached to (0: none)
  bool operator==(const KeyValue&) const = default;
};

// One condition of a transaction, as etcd's Compare: the key's value or one of its revisions
// against `value` / `number`. A missing key has value "", revisions 0 and version 0.
struct Compare {
  enum class Target { kValue, kModRevision, kCreateRevision, kVersion };
  enum class Op { kEqual, kNotEqual, kLess, kGreater };
  std::string key;
  Target target = Target::kValue;
  Op op = Op::kEqual;
  std::string value;   // for kValue
  int64_t number = 0;  // for the revisions and the version
};

struct RequestOp {
  enum class Kind { kGet, kPut, kDelete };
  Kind kind = Kind::kGet;
  std::string key;
  std::string value;    // for kPut
  bool prefix = false;  // kGet and kDelete: every key starting with `key`
  int64_t lease = 0;    // kPut: attach the key to this lease (0: none); the lease must exist
};

struct Txn {
  std::vector<Compare> compares;
  std::vector<RequestOp> success;
  std::vector<RequestOp> failure;
};

struct OpResult {
  std::vector<KeyValue> kvs;  // kGet: the keys read
  int64_t deleted = 0;        // kDelete: how many keys went
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the transaction
  std::vector<OpResult> results;
};

struct RangeResult {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;
  bool more = false;  // the limit cut the answer
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: key and the revision of the deletion (mod_revision)
  bool operator==(const WatchEvent&) const = default;
};

enum class Phase { kReadOnly, kReadWrite };
const char* PhaseName(Phase p);

struct RegistryStatus {
  Phase phase = Phase::kReadOnly;
  NodeId leader = kNoNode;
  std::vector<NodeId> servers;
  uint64_t term = 0;
  uint64_t commit_index = 0;
  int64_t revision = 0;
};

template <typename T>
using Done = std::function<void(Result<T>)>;
using WatchId = uint64_t;

// A lease (etcd's): keys put with it are deleted when it ends — revoked, or not kept alive
// for its TTL. The TTL is whole seconds, and the server may grant more than asked.
using LeaseId = int64_t;
struct LeaseGrant {
  LeaseId id = 0;
  int64_t ttl_seconds = 0;
};

class RegistryBackend {
 public:
  virtual ~RegistryBackend() = default;
  // `serializable`: may be answered from a replica that is behind; allowed while read-only.
  virtual void Get(const std::string& key, bool serializable,
                   Done<std::optional<KeyValue>> done) = 0;
  // Keys starting with `prefix` in key order, at most `limit` (0: no limit).
  virtual void Range(const std::string& prefix, size_t limit, bool serializable,
                     Done<RangeResult> done) = 0;
  virtual void Commit(const Txn& txn, Done<TxnResult> done) = 0;
  // Put answers with the revision of the write once it is committed; Delete with how many
  // keys were deleted (0 or 1). By default one-operation transactions; a backend with
  // cheaper plain writes (etcd) overrides them.
  virtual void Put(const std::string& key, const std::string& value, Done<int64_t> done);
  virtual void Delete(const std::string& key, Done<int64_t> done);
  // Every change under `prefix` from `from_revision` (inclusive; 0: from now on), in revision
  // order, then each new change as it commits. A revision already compacted away ends the
  // watch with Errc::kNotFound (`on_events` gets the error once, then nothing). Returns at
  // once: a watch that cannot be set up (no server answers, a compacted revision) may be
  // refused here or end later through `on_events`, as any watch may end. With
  // `from_revision` 0 the watch starts where the server sets it up, which may be after a
  // write the caller makes at once: pass the next revision to miss nothing.
  virtual Result<WatchId> Watch(const std::string& prefix, int64_t from_revision,
                                std::function<void(Result<std::vector<WatchEvent>>)> on_events) = 0;
  virtual void CancelWatch(WatchId id) = 0;
  virtual void Status(Done<RegistryStatus> done) = 0;

  // Leases. GrantLease answers the new lease; KeepLease renews it for its whole TTL and
  // answers that TTL, or fails with Errc::kNotFound once it has ended (it cannot come
  // back); RevokeLease ends it and deletes its keys (a lease already gone is not an error).
  virtual void GrantLease(int64_t ttl_seconds, Done<LeaseGrant> done) = 0;
  virtual void KeepLease(LeaseId id, Done<int64_t> done) = 0;
  virtual void RevokeLease(LeaseId id, Done<Ok> done) = 0;
};

}  // namespace cohort::registry
