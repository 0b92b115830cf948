#include "registry/guard.h"

namespace cohort::registry {
namespace {

Error ReadOnly(const char* what) {
  return Error(Errc::kUnavailable,
               std::string("the registry is read-only: no registry leader is reachable, so ") +
                   what + " cannot be served until one is");
}

}  // namespace

void PhaseGuard::Get(const std::string& key, bool serializable,
                     Done<std::optional<KeyValue>> done) {
  if (!serializable && phase_ == Phase::kReadOnly) {
    return done(ReadOnly("a linearizable read (ask for a local read)"));
  }
  inner_.Get(key, serializable, std::move(done));
}

void PhaseGuard::Range(const std::string& prefix, size_t limit, bool serializable,
                       Done<RangeResult> done) {
  if (!serializable && phase_ == Phase::kReadOnly) {
    return done(ReadOnly("a linearizable read (ask for a local read)"));
  }
  inner_.Range(prefix, limit, serializable, std::move(done));
}

void PhaseGuard::Commit(const Txn& txn, Done<TxnResult> done) {
  if (phase_ == Phase::kReadOnly) return done(ReadOnly("writes"));
  inner_.Commit(txn, std::move(done));
}

void PhaseGuard::Put(const std::string& key, const std::string& value, Done<int64_t> done) {
  if (phase_ == Phase::kReadOnly) return done(ReadOnly("writes"));
  inner_.Put(key, value, std::move(done));
}

void PhaseGuard::Delete(const std::string& key, Done<int64_t> done) {
  if (phase_ == Phase::kReadOnly) return done(ReadOnly("writes"));
  inner_.Delete(key, std::move(done));
}

void PhaseGuard::GrantLease(int64_t ttl_seconds, Done<LeaseGrant> done) {
  if (phase_ == Phase::kReadOnly) return done(ReadOnly("leases"));
  inner_.GrantLease(ttl_seconds, std::move(done));
}

void PhaseGuard::RevokeLease(LeaseId id, Done<Ok> done) {
  if (phase_ == Phase::kReadOnly) return done(ReadOnly("leases"));
  inner_.RevokeLease(id, std::move(done));
}

Result<WatchId> PhaseGuard::Watch(const std::string& prefix, int64_t from_revision,
                                  std::function<void(Result<std::vector<WatchEvent>>)> on_events) {
  return inner_.Watch(prefix, from_revision, std::move(on_events));
}

}  // namespace cohort::registry
