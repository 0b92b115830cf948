#include "registry/memory.h"

#include <algorithm>

namespace cohort::registry {
namespace {

bool HasPrefix(const std::string& key, const std::string& prefix) {
  return key.compare(0, prefix.size(), prefix) == 0;
}

template <typename T>
bool Compared(const T& a, Compare::Op op, const T& b) {
  switch (op) {
    case Compare::Op::kEqual:
      return a == b;
    case Compare::Op::kNotEqual:
      return a != b;
    case Compare::Op::kLess:
      return a < b;
    case Compare::Op::kGreater:
      return a > b;
  }
  return false;
}

}  // namespace

const char* PhaseName(Phase p) { return p == Phase::kReadWrite ? "read-write" : "read-only"; }

MemoryRegistry::MemoryRegistry(std::vector<NodeId> servers, size_t history)
    : servers_(std::move(servers)), history_limit_(std::max<size_t>(history, 1)) {
  SetLeader(servers_.empty() ? kNoNode : servers_.front());
}

void MemoryRegistry::SetLeader(NodeId node) {
  if (node != leader_ && node != kNoNode) ++term_;
  leader_ = node;
}

cohort::Status MemoryRegistry::Writable() const {
  if (leader_ != kNoNode) return OkStatus();
  return Error(Errc::kUnavailable,
               "the registry is read-only: no registry server leader is reachable (writes "
               "resume once one is elected)");
}

cohort::Status MemoryRegistry::Readable(bool serializable) const {
  return serializable ? OkStatus() : Writable();
}

std::vector<KeyValue> MemoryRegistry::Read(const std::string& key, bool prefix, size_t limit,
                                           bool* more) const {
  std::vector<KeyValue> out;
  if (!prefix) {
    auto it = kvs_.find(key);
    if (it != kvs_.end()) out.push_back(it->second);
    return out;
  }
  for (auto it = kvs_.lower_bound(key); it != kvs_.end() && HasPrefix(it->first, key); ++it) {
    if (limit != 0 && out.size() == limit) {
      if (more) *more = true;
      break;
    }
    out.push_back(it->second);
  }
  return out;
}

void MemoryRegistry::Get(const std::string& key, bool serializable,
                         Done<std::optional<KeyValue>> done) {
  if (auto s = Readable(serializable); !s) return done(s.error());
  auto kvs = Read(key, false, 0, nullptr);
  done(kvs.empty() ? std::optional<KeyValue>() : std::optional<KeyValue>(kvs.front()));
}

void MemoryRegistry::Range(const std::string& prefix, size_t limit, bool serializable,
                           Done<RangeResult> done) {
  if (auto s = Readable(serializable); !s) return done(s.error());
  RangeResult r;
  r.kvs = Read(prefix, true, limit, &r.more);
  r.revision = revision_;
  done(std::move(r));
}

bool MemoryRegistry::Holds(const Compare& c) const {
  auto it = kvs_.find(c.key);
  const KeyValue none;
  const KeyValue& kv = it == kvs_.end() ? none : it->second;
  switch (c.target) {
    case Compare::Target::kValue:
      // As etcd: a missing key has no value to compare, whatever the operator.
      return it != kvs_.end() && Compared(kv.value, c.op, c.value);
    case Compare::Target::kModRevision:
      return Compared(kv.mod_revision, c.op, c.number);
    case Compare::Target::kCreateRevision:
      return Compared(kv.create_revision, c.op, c.number);
    case Compare::Target::kVersion:
      return Compared(kv.version, c.op, c.number);
  }
  return false;
}

std::vector<OpResult> MemoryRegistry::Apply(const std::vector<RequestOp>& ops, int64_t rev,
                                            std::vector<WatchEvent>& events) {
  std::vector<OpResult> results;
  for (const RequestOp& op : ops) {
    OpResult r;
    switch (op.kind) {
      case RequestOp::Kind::kGet:
        r.kvs = Read(op.key, op.prefix, 0, nullptr);
        break;
      case RequestOp::Kind::kPut: {
        KeyValue& kv = kvs_[op.key];
        kv.lease = op.lease;
        if (kv.create_revision == 0) {
          kv.key = op.key;
          kv.create_revision = rev;
        }
        kv.value = op.value;
        kv.mod_revision = rev;
        ++kv.version;
        events.push_back(WatchEvent{WatchEvent::Type::kPut, kv});
        break;
      }
      case RequestOp::Kind::kDelete: {
        for (const KeyValue& kv : Read(op.key, op.prefix, 0, nullptr)) {
          kvs_.erase(kv.key);
          ++r.deleted;
          events.push_back(WatchEvent{WatchEvent::Type::kDelete, KeyValue{kv.key, "", 0, rev, 0}});
        }
        break;
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

void MemoryRegistry::Commit(const Txn& txn, Done<TxnResult> done) {
  const bool succeeded = std::all_of(txn.compares.begin(), txn.compares.end(),
                                     [&](const Compare& c) { return Holds(c); });
  const auto& ops = succeeded ? txn.success : txn.failure;
  // Every transaction is linearizable: it needs a leader even when it only reads.
  if (auto s = Writable(); !s) return done(s.error());
  for (const RequestOp& op : ops) {
    if (op.kind == RequestOp::Kind::kPut && op.lease != 0 && leases_.count(op.lease) == 0) {
      return done(Error(Errc::kNotFound, "requested lease not found"));
    }
  }
  TxnResult result;
  result.succeeded = succeeded;
  std::vector<WatchEvent> events;
  const int64_t rev = revision_ + 1;
  result.results = Apply(ops, rev, events);
  if (!events.empty()) {  // a transaction that changed nothing takes no revision
    revision_ = rev;
    ++commit_index_;
  }
  result.revision = revision_;
  Publish(std::move(events));
  done(std::move(result));
}

void MemoryRegistry::Publish(std::vector<WatchEvent> events) {
  if (events.empty()) return;
  history_.insert(history_.end(), events.begin(), events.end());
  if (history_.size() > history_limit_) {
    const size_t drop = history_.size() - history_limit_;
    compacted_ = history_[drop - 1].kv.mod_revision;
    // Keep whole revisions: a revision is either all there or compacted.
    size_t keep_from = drop;
    while (keep_from < history_.size() && history_[keep_from].kv.mod_revision <= compacted_) {
      ++keep_from;
    }
    history_.erase(history_.begin(), history_.begin() + static_cast<ptrdiff_t>(keep_from));
  }
  std::vector<WatchId> ids;
  for (const auto& [id, w] : watchers_) ids.push_back(id);
  for (WatchId id : ids) {
    auto it = watchers_.find(id);  // an earlier callback may have cancelled it
    if (it == watchers_.end()) continue;
    std::vector<WatchEvent> mine;
    for (const WatchEvent& e : events) {
      if (HasPrefix(e.kv.key, it->second.prefix)) mine.push_back(e);
    }
    if (!mine.empty()) {
      auto on_events = it->second.on_events;
      on_events(std::move(mine));
    }
  }
}

Result<WatchId> MemoryRegistry::Watch(
    const std::string& prefix, int64_t from_revision,
    std::function<void(Result<std::vector<WatchEvent>>)> on_events) {
  if (from_revision < 0) {
    return Error(Errc::kInvalidArgument, "watch revision must be 0 (from now) or positive");
  }
  if (from_revision != 0 && from_revision <= compacted_) {
    return Error(Errc::kNotFound, "revision " + std::to_string(from_revision) +
                                      " has been compacted; watch from " +
                                      std::to_string(compacted_ + 1) + " or later");
  }
  const WatchId id = next_watch_++;
  watchers_[id] = Watcher{prefix, on_events};
  if (from_revision != 0 && from_revision <= revision_) {
    std::vector<WatchEvent> past;
    for (const WatchEvent& e : history_) {
      if (e.kv.mod_revision >= from_revision && HasPrefix(e.kv.key, prefix)) past.push_back(e);
    }
    if (!past.empty()) on_events(std::move(past));
  }
  return id;
}

void MemoryRegistry::CancelWatch(WatchId id) { watchers_.erase(id); }

void MemoryRegistry::Status(Done<RegistryStatus> done) {
  RegistryStatus s;
  s.phase = leader_ == kNoNode ? Phase::kReadOnly : Phase::kReadWrite;
  s.leader = leader_;
  s.servers = servers_;
  s.term = term_;
  s.commit_index = commit_index_;
  s.revision = revision_;
  done(std::move(s));
}

void MemoryRegistry::GrantLease(int64_t ttl_seconds, Done<LeaseGrant> done) {
  if (auto s = Writable(); !s) return done(s.error());
  if (ttl_seconds <= 0) return done(Error(Errc::kInvalidArgument, "lease TTL must be positive"));
  const LeaseId id = next_lease_++;
  leases_[id] = ttl_seconds;
  done(LeaseGrant{id, ttl_seconds});
}

void MemoryRegistry::KeepLease(LeaseId id, Done<int64_t> done) {
  if (auto s = Writable(); !s) return done(s.error());
  auto it = leases_.find(id);
  if (it == leases_.end()) return done(Error(Errc::kNotFound, "requested lease not found"));
  done(it->second);
}

void MemoryRegistry::RevokeLease(LeaseId id, Done<Ok> done) {
  if (auto s = Writable(); !s) return done(s.error());
  ExpireLease(id);
  done(Ok{});
}

void MemoryRegistry::ExpireLease(LeaseId id) {
  if (leases_.erase(id) == 0) return;
  std::vector<RequestOp> deletes;
  for (const auto& [key, kv] : kvs_) {
    if (kv.lease == id) deletes.push_back(RequestOp{RequestOp::Kind::kDelete, key, "", false, 0});
  }
  if (deletes.empty()) return;
  std::vector<WatchEvent> events;
  const int64_t rev = revision_ + 1;
  Apply(deletes, rev, events);
  revision_ = rev;
  ++commit_index_;
  Publish(std::move(events));
}

}  // namespace cohort::registry
