// ResourceService, fast takeover (resources/agent.h; docs/design/resources.md, "Fast
// takeover"): this node's alive key renewed by compare-and-swap every eighth of the alive
// TTL, every node's alive key timed from when its revision was first seen, and an owner key
// taken from a node whose alive key stood still.
#include "base/log.h"
#include "io/clock.h"
#include "node/node.h"
#include "node/resource_service_impl.h"

namespace cohort::node {

using resources::RecordKey;

namespace {

constexpr Duration kShortestRenewal = Duration::Millis(20);

}  // namespace

void ResourceService::Impl::AliveTick() {
  if (!*alive || options.alive_ttl.nanos() <= 0) return;
  const Duration period =
      Duration::Nanos(std::max(options.alive_ttl.nanos() / 8, kShortestRenewal.nanos()));
  alive_timer.expires_after(std::chrono::nanoseconds(period.nanos()));
  alive_timer.async_wait([this, alive = alive](boost::system::error_code ec) {
    if (ec || !*alive) return;
    AliveTick();
  });
  KeepAlive();
}

// A new lease's key is put as it is: whatever stands there is an earlier lease's of this
// node (taken or not), and replacing it only makes others wait for that lease's end. Then
// each renewal swaps on the revision this node wrote; a failed swap reads the key back.
void ResourceService::Impl::KeepAlive() {
  const Records where = Where();
  const int64_t lease = agent.lease();
  // Renewed while stopping too: a resource blocked here may still run, and its key must not
  // become takeable before the daemon has gone.
  if (where.backend == nullptr || lease == 0 || alive_renewing) return;
  if (alive_lease != lease) {
    alive_lease = lease;
    alive_revision = 0;
  }
  const NodeId self = node.membership().self();
  const std::string key = where.prefix + resources::KeyOf({RecordKey::Kind::kAlive, "", self});
  registry::Txn txn;
  if (alive_revision != 0) {
    txn.compares.push_back({key, registry::Compare::Target::kModRevision,
                            registry::Compare::Op::kEqual, "", alive_revision});
  }
  const auto ttl_ms = static_cast<uint32_t>(options.alive_ttl.nanos() / 1'000'000);
  txn.success.push_back({registry::RequestOp::Kind::kPut, key,
                         resources::EncodeAlive({self, kNoNode, ttl_ms}), false, lease});
  txn.failure.push_back({registry::RequestOp::Kind::kGet, key, "", false, 0});
  alive_renewing = true;
  const Instant sent = io::SteadyNow();
  where.backend->Commit(txn, Later([this, lease, sent](Result<registry::TxnResult> r) {
                          alive_renewing = false;
                          AliveAnswered(lease, sent, r);
                        }));
}

void ResourceService::Impl::AliveAnswered(int64_t lease, Instant sent,
                                          const Result<registry::TxnResult>& r) {
  if (lease != agent.lease() || lease != alive_lease) return;  // given up meanwhile
  if (!r) return void(++metrics.registry_errors);
  if (r->succeeded) {
    const bool was_fenced = agent.Fenced(io::SteadyNow());
    alive_revision = r->revision;
    ++metrics.alive_renewals;
    Wrote(r->revision);  // the watch must show it: a silent watch is found in seconds
    agent.AliveRenewed(lease, sent);
    if (was_fenced) Drive();
    return;
  }
  // The swap failed: the key is this node's own (an answer lost on the way: renewed next
  // time on its revision), or taken, or gone — then this node's keys may be another's now.
  const NodeId self = node.membership().self();
  const registry::KeyValue* kv = nullptr;
  if (!r->results.empty() && !r->results[0].kvs.empty()) kv = &r->results[0].kvs[0];
  if (kv != nullptr && kv->lease == lease) {
    auto rec = resources::ParseAlive(kv->value);
    if (rec && rec->node == self && rec->taken_by == kNoNode) {
      alive_revision = kv->mod_revision;
      return;
    }
  }
  ++metrics.leases_lost;
  Log(LogLevel::kWarn, "resources", "alive key taken over or gone: stopping everything",
      {{"lease", std::to_string(lease)}});
  agent.LeaseLost();
  // Its keys go at once (they may be taken anyway); the next tick grants another lease.
  if (const Records where = Where(); where.backend != nullptr) {
    where.backend->RevokeLease(lease, [](Result<Ok>) {});
  }
  Drive();
}

// News when a key comes, goes, is taken or changes lease; a renewal is not.
bool ResourceService::Impl::ApplyAlive(NodeId n, const registry::KeyValue& kv, bool deleted) {
  auto rec = deleted ? Result<resources::AliveRecord>(resources::AliveRecord{})
                     : resources::ParseAlive(kv.value);
  const auto before = mirror.alive.find(n);
  if (deleted || !rec || rec->node != n) {
    const bool had = before != mirror.alive.end();
    mirror.alive.erase(n);
    alive_seen.erase(n);
    return had;
  }
  const bool news = before == mirror.alive.end() || before->second.lease != kv.lease ||
                    before->second.taken != (rec->taken_by != kNoNode);
  // Timed from when this node first saw the revision, also over a read of the records again.
  auto seen = alive_seen.find(n);
  if (seen == alive_seen.end() || seen->second.first != kv.mod_revision) {
    seen = alive_seen.insert_or_assign(n, std::make_pair(kv.mod_revision, io::SteadyNow())).first;
  }
  mirror.alive[n] = {kv.lease, kv.mod_revision, rec->taken_by != kNoNode, seen->second.second,
                     Duration::Millis(rec->ttl_ms)};
  return news;
}

// On the revisions the agent decided on — the alive key's revision it timed, not a newer one
// the mirror may hold already (renewals do not drive the agent): the owner key still the
// holder's on the lease the agent saw, the alive key unchanged since; marked taken in the
// same transaction, so the holder's next renewal fails.
void ResourceService::Impl::TakeOver(const std::string& name) {
  const Records where = Where();
  const int64_t lease = agent.lease();
  const resources::RegistryView& decided = agent.view();
  const auto held = decided.owners.find(name);
  const auto owner = mirror.owners.find(name);
  if (where.backend == nullptr || lease == 0 || held == decided.owners.end() ||
      owner == mirror.owners.end() || owner->second.node != held->second.first ||
      owner->second.lease != held->second.second) {
    return agent.Acquired(name, false);
  }
  const NodeId holder = held->second.first;
  const auto seen = decided.alive.find(holder);
  if (seen == decided.alive.end() || seen->second.lease != held->second.second) {
    return agent.Acquired(name, false);
  }
  const NodeId self = node.membership().self();
  const std::string key = where.prefix + resources::KeyOf({RecordKey::Kind::kOwner, name});
  const std::string alive_key =
      where.prefix + resources::KeyOf({RecordKey::Kind::kAlive, "", holder});
  registry::Txn txn;
  txn.compares.push_back({key, registry::Compare::Target::kModRevision,
                          registry::Compare::Op::kEqual, "", owner->second.mod_revision});
  txn.compares.push_back({alive_key, registry::Compare::Target::kModRevision,
                          registry::Compare::Op::kEqual, "", seen->second.revision});
  txn.success.push_back(
      {registry::RequestOp::Kind::kPut, key, resources::EncodeOwner(self), false, lease});
  txn.success.push_back({registry::RequestOp::Kind::kPut, alive_key,
                         resources::EncodeAlive({holder, self}), false, seen->second.lease});
  where.backend->Commit(txn, Later([this, name, holder, lease](Result<registry::TxnResult> r) {
                          if (!r) ++metrics.registry_errors;
                          // An answer for a lease given up since holds nothing: that key
                          // goes with its lease.
                          const bool ok = r && r->succeeded && lease == agent.lease();
                          if (ok) {
                            ++metrics.takeovers;
                            Log(LogLevel::kInfo, "resources", "took ownership over",
                                {{"resource", name}, {"from", std::to_string(holder)}});
                          }
                          agent.Acquired(name, ok);
                          if (ok) Drive();
                        }));
}

}  // namespace cohort::node
