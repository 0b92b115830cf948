// MemoryRegistry: a linearizable, single-threaded model of the System Registry with etcd's
// semantics, for unit and simulator tests (and the reference the etcd client is checked
// against). One store; every committed write or transaction with writes adds one revision;
// watch history is kept up to `history` events, older revisions are compacted away.
// SetLeader(false) models the read-only phase (R3): writes and linearizable reads fail at
// once with Errc::kUnavailable, serializable reads are answered.
#pragma once

#include <map>

#include "registry/backend.h"

namespace cohort::registry {

class MemoryRegistry : public RegistryBackend {
 public:
  explicit MemoryRegistry(std::vector<NodeId> servers = {1}, size_t history = 10000);

  void Get(const std::string& key, bool serializable, Done<std::optional<KeyValue>> done) override;
  void Range(const std::string& prefix, size_t limit, bool serializable,
             Done<RangeResult> done) override;
  void Commit(const Txn& txn, Done<TxnResult> done) override;
  Result<WatchId> Watch(const std::string& prefix, int64_t from_revision,
                        std::function<void(Result<std::vector<WatchEvent>>)> on_events) override;
  void CancelWatch(WatchId id) override;
  void Status(Done<RegistryStatus> done) override;
  void GrantLease(int64_t ttl_seconds, Done<LeaseGrant> done) override;
  void KeepLease(LeaseId id, Done<int64_t> done) override;
  void RevokeLease(LeaseId id, Done<Ok> done) override;

  // The model has no clock: a test or the simulator ends a lease whose TTL ran out here.
  // Its keys are deleted in one revision, as etcd does.
  void ExpireLease(LeaseId id);
  bool HasLease(LeaseId id) const { return leases_.count(id) != 0; }

  // The leader is `node` (kNoNode: none reachable, read-only); a new leader starts a term.
  void SetLeader(NodeId node);
  int64_t revision() const { return revision_; }

 private:
  struct Watcher {
    std::string prefix;
    std::function<void(Result<std::vector<WatchEvent>>)> on_events;
  };
  cohort::Status Writable() const;
  cohort::Status Readable(bool serializable) const;
  bool Holds(const Compare& c) const;
  // Applies `ops` as revision `rev`; every change it makes is added to `events`.
  std::vector<OpResult> Apply(const std::vector<RequestOp>& ops, int64_t rev,
                              std::vector<WatchEvent>& events);
  std::vector<KeyValue> Read(const std::string& key, bool prefix, size_t limit, bool* more) const;
  void Publish(std::vector<WatchEvent> events);

  std::vector<NodeId> servers_;
  size_t history_limit_;
  std::map<std::string, KeyValue> kvs_;
  std::map<LeaseId, int64_t> leases_;  // id -> TTL in seconds
  LeaseId next_lease_ = 1;
  int64_t revision_ = 1;
  int64_t compacted_ = 0;  // events at or below this revision are gone
  std::vector<WatchEvent> history_;
  std::map<WatchId, Watcher> watchers_;
  WatchId next_watch_ = 1;
  NodeId leader_ = kNoNode;
  uint64_t term_ = 0;
  uint64_t commit_index_ = 0;
};

}  // namespace cohort::registry
