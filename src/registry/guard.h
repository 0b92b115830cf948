// PhaseGuard: the two-phase start (R3) as every caller sees it. While the registry is
// read-only (no leader reachable), writes and linearizable reads fail at once with
// Errc::kUnavailable and a message that says why, instead of waiting out a timeout;
// serializable reads, watches and status still go through. The configuration manager sets
// the phase from the registry's status.
#pragma once

#include "registry/backend.h"

namespace cohort::registry {

class PhaseGuard : public RegistryBackend {
 public:
  explicit PhaseGuard(RegistryBackend& inner) : inner_(inner) {}
  void SetPhase(Phase phase) { phase_ = phase; }
  Phase phase() const { return phase_; }

  void Get(const std::string& key, bool serializable, Done<std::optional<KeyValue>> done) override;
  void Range(const std::string& prefix, size_t limit, bool serializable,
             Done<RangeResult> done) override;
  void Commit(const Txn& txn, Done<TxnResult> done) override;
  void Put(const std::string& key, const std::string& value, Done<int64_t> done) override;
  void Delete(const std::string& key, Done<int64_t> done) override;
  Result<WatchId> Watch(const std::string& prefix, int64_t from_revision,
                        std::function<void(Result<std::vector<WatchEvent>>)> on_events) override;
  void CancelWatch(WatchId id) override { inner_.CancelWatch(id); }
  void Status(Done<RegistryStatus> done) override { inner_.Status(std::move(done)); }
  void GrantLease(int64_t ttl_seconds, Done<LeaseGrant> done) override;
  // Passed through even while read-only: the phase seen here may lag, and a renewal that
  // the registry still takes keeps the holder's resources running.
  void KeepLease(LeaseId id, Done<int64_t> done) override { inner_.KeepLease(id, std::move(done)); }
  void RevokeLease(LeaseId id, Done<Ok> done) override;

 private:
  RegistryBackend& inner_;
  Phase phase_ = Phase::kReadOnly;
};

}  // namespace cohort::registry
