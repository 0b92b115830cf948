#include "node/resource_service.h"

#include <boost/asio/post.hpp>

#include "base/log.h"
#include "base/text.h"
#include "io/clock.h"
#include "node/node.h"
#include "node/resource_service_impl.h"

namespace cohort::node {

namespace asio = boost::asio;
using resources::Action;
using resources::ActionKind;
using resources::RecordKey;

namespace {

constexpr auto kResync = std::chrono::milliseconds(500);

const char* ActionName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kStart:
      return "start";
    case ActionKind::kPromote:
      return "promote";
    case ActionKind::kDemote:
      return "demote";
    case ActionKind::kStop:
      return "stop";
    default:
      return "monitor";
  }
}
constexpr Duration kWatchSilence = Duration::Seconds(2);
constexpr Duration kResyncEvery = Duration::Millis(100);

}  // namespace

ResourceService::Impl::Impl(Node& n, RecordsSource r, asio::io_context& i, Options o)
    : node(n),
      where_records(std::move(r)),
      io(i),
      options(std::move(o)),
      runner(i, options.runner),
      agent(n.membership().self(), options.fence_margin, options.alive_ttl),
      tick(i),
      wakeup(i),
      stop_timer(i),
      alive_timer(i) {}

ResourceService::Records ResourceService::Impl::Where() const { return where_records(); }

const resources::ResourceSpec* ResourceService::Impl::SpecOf(const std::string& name) const {
  auto it = mirror.specs.find(name);
  return it == mirror.specs.end() ? nullptr : &it->second;
}

// Every renewal period: the lease, the mirror when it is not synced, the agent.
void ResourceService::Impl::Tick() {
  if (!*alive) return;
  const Duration period = Duration::Nanos(
      std::max<int64_t>(options.lease_ttl.nanos() / 8, Duration::Millis(100).nanos()));
  tick.expires_after(std::chrono::nanoseconds(period.nanos()));
  tick.async_wait([this, alive = alive](boost::system::error_code ec) {
    if (ec || !*alive) return;
    Tick();
  });
  CheckWatch();
  if (!synced && !syncing) Sync();
  KeepLease();
  Discover();
  Drive();
}

void ResourceService::Impl::Sync() {
  const Records where = Where();
  if (where.backend == nullptr) return;
  if (watch && watched.backend != nullptr) watched.backend->CancelWatch(*watch);
  watch.reset();
  syncing = true;
  sync_started = io::SteadyNow();
  where.backend->Range(
      where.prefix, 0, false, Later([this, where](Result<registry::RangeResult> got) {
        syncing = false;
        if (!got) {
          ++metrics.registry_errors;
          return;  // the next tick tries again
        }
        const auto inventories = std::move(mirror.inventories);
        mirror = Mirror{};
        seen_revision = got->revision;
        awaited_revision = 0;
        for (const auto& kv : got->kvs) ApplyOne(kv, false);
        if (probed) InventoriesReread(inventories);  // a read again: what changed meanwhile
        auto id = where.backend->Watch(
            where.prefix, got->revision + 1,
            Later([this](Result<std::vector<registry::WatchEvent>> events) {
              if (!events) {
                Log(LogLevel::kWarn, "resources", "registry watch ended; reading again",
                    {{"error", events.error().message()}});
                synced = false;
                if (watch && watched.backend != nullptr) watched.backend->CancelWatch(*watch);
                watch.reset();
                // At once (a failed server's records are news that cannot wait for the
                // tick), but not in a loop with a watch that keeps ending.
                if (!syncing && io::SteadyNow() - sync_started >= kResyncEvery) Sync();
                return;
              }
              Apply(*events);
            }));
        if (!id) {
          ++metrics.registry_errors;
          return;
        }
        watch = *id;
        watched = where;
        synced = true;
        if (!probed) {
          probed = true;
          Probe();
        }
        Notify();
        Drive();
      }));
}

void ResourceService::Impl::Apply(const std::vector<registry::WatchEvent>& events) {
  bool news = false;
  for (const auto& e : events) {
    seen_revision = std::max(seen_revision, e.kv.mod_revision);
    news = ApplyOne(e.kv, e.type == registry::WatchEvent::Type::kDelete) || news;
  }
  if (awaited_revision != 0 && seen_revision >= awaited_revision) awaited_revision = 0;
  if (!news) return;  // alive renewals only: the agent's wakeup times them
  Notify();
  Drive();
}

bool ResourceService::Impl::ApplyOne(const registry::KeyValue& kv, bool deleted) {
  const std::string& prefix = watched.backend != nullptr ? watched.prefix : Where().prefix;
  if (kv.key.compare(0, prefix.size(), prefix) != 0) return false;
  auto key = resources::ParseKey(kv.key.substr(prefix.size()));
  if (!key) return false;  // not one of ours: ignored
  const std::string& name = key->name;
  const NodeId self = node.membership().self();
  switch (key->kind) {
    case RecordKey::Kind::kDef: {
      const uint32_t cleared_before =
          mirror.specs.count(name) != 0 ? mirror.specs.at(name).cleared : 0;
      mirror.specs.erase(name);
      if (deleted) break;
      auto spec = resources::ParseSpec(kv.value);
      if (!spec || spec->name != name) {
        Log(LogLevel::kWarn, "resources", "a stored definition does not decode; ignored",
            {{"key", kv.key}, {"error", spec ? "its name differs" : spec.error().message()}});
        break;
      }
      if (spec->cleared != cleared_before) {  // `cohort resource clear`
        agent.Clear(name);
        failures_written.erase(name);
      }
      mirror.specs[name] = *spec;
      break;
    }
    case RecordKey::Kind::kPlaced: {
      auto placed = deleted ? Result<resources::PlacedRecord>(resources::PlacedRecord{})
                            : resources::ParsePlaced(kv.value);
      if (deleted || !placed) {
        mirror.placed.erase(name);
      } else {
        mirror.placed[name] = *placed;
      }
      break;
    }
    case RecordKey::Kind::kOwner: {
      auto owner = deleted ? Result<NodeId>(kNoNode) : resources::ParseOwner(kv.value);
      if (deleted) {
        mirror.owners.erase(name);
      } else {
        // A key that does not decode is still a key: held by no node this one knows.
        mirror.owners[name] = OwnerKey{owner ? *owner : kNoNode, kv.lease, kv.mod_revision};
      }
      break;
    }
    case RecordKey::Kind::kStatus: {
      auto status = deleted ? Result<resources::StatusRecord>(resources::StatusRecord{})
                            : resources::ParseStatus(kv.value);
      if (deleted || !status) {
        mirror.status[name].erase(key->node);
      } else {
        mirror.status[name][key->node] = *status;
      }
      break;
    }
    case RecordKey::Kind::kInventory:
      ApplyInventory(key->node, kv, deleted);
      break;
    case RecordKey::Kind::kAlive:
      return ApplyAlive(key->node, kv, deleted);
    case RecordKey::Kind::kFails: {
      auto n = deleted ? std::optional<uint64_t>() : ParseUnsigned(kv.value);
      if (deleted || !n) {
        mirror.fails[name].erase(key->node);
        if (deleted && key->node == self) {  // `cohort resource clear`
          agent.Clear(name);
          failures_written.erase(name);
        }
      } else {
        mirror.fails[name][key->node] = static_cast<uint32_t>(std::min<uint64_t>(*n, 1u << 30));
      }
      break;
    }
  }
  return true;
}

// At start, before deciding anything: an OCF resource a previous run of this daemon left
// running here (it crashed, or was killed) is stopped, since this node holds no key for it.
void ResourceService::Impl::Probe() {
  for (const auto& [name, spec] : mirror.specs) {
    if (spec.cls != resources::ResourceClass::kOcf || !runner.AgentPath(spec.agent)) continue;
    ++probes;
    resources::ResourceSpec copy = spec;
    runner.Monitor(copy, Later([this, copy](const ActionOutcome& o) {
                     if (o.monitor == resources::MonitorResult::kNotRunning) {
                       --probes;
                       return Drive();
                     }
                     Log(LogLevel::kWarn, "resources", "found running here at start; stopping it",
                         {{"resource", copy.name}, {"monitor", o.detail}});
                     auto stop = [this, copy] {
                       runner.Stop(copy,
                                   Later([this, name = copy.name](const ActionOutcome& stopped) {
                                     if (!stopped.ok) {
                                       Log(LogLevel::kError, "resources",
                                           "could not stop a resource found running at start",
                                           {{"resource", name}, {"stop", stopped.detail}});
                                     }
                                     --probes;
                                     Drive();
                                   }));
                     };
                     // Found promoted: demoted first, as an agent's stop may require.
                     if (o.monitor != resources::MonitorResult::kRunningPromoted) return stop();
                     runner.Promote(copy, false, Later([stop](const ActionOutcome&) { stop(); }));
                   }));
  }
}

void ResourceService::Impl::KeepLease() {
  const Records where = Where();
  if (where.backend == nullptr || granting || renewing) return;
  const Instant sent = io::SteadyNow();
  if (agent.lease() == 0) {
    granting = true;
    const int64_t ttl = std::max<int64_t>(1, options.lease_ttl.nanos() / 1'000'000'000);
    where.backend->GrantLease(
        ttl, Later([this, sent](Result<registry::LeaseGrant> got) {
          granting = false;
          if (!got) {
            ++metrics.registry_errors;
            return;
          }
          agent.LeaseValid(got->id, sent + Duration::Seconds(got->ttl_seconds));
          Log(LogLevel::kInfo, "resources", "lease granted",
              {{"lease", std::to_string(got->id)}, {"ttl_s", std::to_string(got->ttl_seconds)}});
          Drive();
        }));
    return;
  }
  renewing = true;
  const int64_t lease = agent.lease();
  where.backend->KeepLease(lease, Later([this, sent, lease](Result<int64_t> got) {
                             renewing = false;
                             if (lease != agent.lease()) return;
                             if (got) {
                               ++metrics.lease_renewals;
                               agent.LeaseValid(lease, sent + Duration::Seconds(*got));
                             } else if (got.error().code() == Errc::kNotFound) {
                               ++metrics.leases_lost;
                               Log(LogLevel::kWarn, "resources", "lease lost: its keys are gone",
                                   {{"lease", std::to_string(lease)}});
                               agent.LeaseLost();
                             } else {
                               ++metrics.registry_errors;
                             }
                             Drive();
                           }));
}

// Runs the agent until it has nothing more to say; never re-entered from an answer that
// comes at once.
void ResourceService::Impl::Drive() {
  if (!*alive) return;
  if (driving) {
    drive_again = true;
    return;
  }
  driving = true;
  for (int round = 0; round < 16; ++round) {
    drive_again = false;
    try {
      DriveOnce();
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "resources", "a decision step failed", {{"error", e.what()}});
    }
    if (!drive_again) break;
  }
  driving = false;
  ScheduleWakeup();
}

// The agent decides even without a fresh view (the registry unreachable, the mirror being
// read again): its fence must act then above all.
void ResourceService::Impl::DriveOnce() {
  const bool was_fenced = agent.Fenced(io::SteadyNow());
  if (synced && probes == 0) {
    if (node.membership().supervisor() == node.membership().self()) PlaceAsSupervisor();
    agent.SetView(ViewForAgent());
  }
  const Instant now = io::SteadyNow();
  if (!was_fenced && agent.Fenced(now) && agent.lease() != 0) ++metrics.fenced;
  for (const Action& a : agent.Decide(now)) Carry(a);
}

void ResourceService::Impl::ScheduleWakeup() {
  const Instant now = io::SteadyNow();
  // At least 10 ms apart: a time already passed must not spin the loop.
  const Instant next = std::max(agent.NextWakeup(now), now + Duration::Millis(10));
  if (next == wakeup_at || agent.NextWakeup(now) == Instant::Max()) return;
  wakeup_at = next;
  wakeup.At(next, [this] {
    wakeup_at = Instant::Max();
    Drive();
  });
}

void ResourceService::Impl::Carry(const Action& a) {
  switch (a.kind) {
    case ActionKind::kAcquire:
      return Acquire(a.resource);
    case ActionKind::kTakeOver:
      return TakeOver(a.resource);
    case ActionKind::kRelease:
      return Release(a.resource);
    case ActionKind::kStart:
    case ActionKind::kPromote:
    case ActionKind::kMonitor:
    case ActionKind::kDemote:
    case ActionKind::kStop:
      return RunAction(a);
    case ActionKind::kRecordFailure:
      return RecordFailure(a.resource);
    case ActionKind::kReport:
      return Report(a.resource);
    case ActionKind::kCancel:
      return runner.Cancel(a.resource);
  }
}

void ResourceService::Impl::Acquire(const std::string& name) {
  const Records where = Where();
  const int64_t lease = agent.lease();
  if (where.backend == nullptr || lease == 0) return agent.Acquired(name, false);
  const std::string key = where.prefix + resources::KeyOf({RecordKey::Kind::kOwner, name});
  registry::Txn txn;
  txn.compares.push_back(
      {key, registry::Compare::Target::kCreateRevision, registry::Compare::Op::kEqual, "", 0});
  txn.success.push_back({registry::RequestOp::Kind::kPut, key,
                         resources::EncodeOwner(node.membership().self()), false, lease});
  where.backend->Commit(
      txn, Later([this, name, lease](Result<registry::TxnResult> r) {
        if (!r) ++metrics.registry_errors;
        // An answer for a lease given up since holds nothing: that key goes with its lease.
        const bool ok = r && r->succeeded && lease == agent.lease();
        if (ok) {
          Log(LogLevel::kInfo, "resources", "took ownership", {{"resource", name}});
        }
        agent.Acquired(name, ok);
        // After an error or a key held already, the next tick or the watch's news drives:
        // no loop against a dead registry or a stale view.
        if (ok) Drive();
      }));
}

void ResourceService::Impl::Release(const std::string& name) {
  const Records where = Where();
  if (where.backend == nullptr) return agent.Released(name);
  const std::string key = where.prefix + resources::KeyOf({RecordKey::Kind::kOwner, name});
  // Only this node's key: another's (taken after this node's lease ended) is left alone.
  registry::Txn txn;
  txn.compares.push_back({key, registry::Compare::Target::kValue, registry::Compare::Op::kEqual,
                          resources::EncodeOwner(node.membership().self()), 0});
  txn.success.push_back({registry::RequestOp::Kind::kDelete, key, "", false, 0});
  where.backend->Commit(txn, Later([this, name](Result<registry::TxnResult> r) {
                          if (!r) ++metrics.registry_errors;
                          agent.Released(name);
                          if (r) Drive();
                        }));
}

void ResourceService::Impl::RunAction(const Action& a) {
  // A start runs the definition as it is now; monitors and stops the one it was started
  // with (changed or deleted since, the old parameters are what runs).
  resources::ResourceSpec spec;
  if (a.kind == ActionKind::kStart) {
    const resources::ResourceSpec* found = SpecOf(a.resource);
    if (found == nullptr) return agent.Started(a.resource, false, io::SteadyNow());
    spec = *found;
    last_specs[a.resource] = spec;
  } else if (auto ran = last_specs.find(a.resource); ran != last_specs.end()) {
    spec = ran->second;
  } else if (const resources::ResourceSpec* found = SpecOf(a.resource)) {
    spec = *found;
  } else if (a.kind == ActionKind::kDemote) {
    return agent.Demoted(a.resource, true);  // never started here
  } else {
    return agent.Stopped(a.resource, true);
  }
  ++metrics.actions;
  const std::string name = a.resource;
  const ActionKind kind = a.kind;
  auto done = Later([this, name, kind](const ActionOutcome& o) {
    const Instant now = io::SteadyNow();
    if (!o.ok) {
      ++metrics.action_failures;
      last_error[name] = o.detail;
    }
    const char* what = ActionName(kind);
    if (!o.ok || kind != ActionKind::kMonitor) {
      Log(o.ok ? LogLevel::kInfo : LogLevel::kWarn, "resources",
          o.ok ? "action done" : "action failed",
          {{"resource", name}, {"action", what}, {"result", o.detail}});
    }
    switch (kind) {
      case ActionKind::kStart:
        if (o.ok) last_error.erase(name);
        agent.Started(name, o.ok, now);
        break;
      case ActionKind::kPromote:
        if (o.ok) last_error.erase(name);
        agent.Promoted(name, o.ok, now);
        break;
      case ActionKind::kDemote:
        agent.Demoted(name, o.ok);
        break;
      case ActionKind::kStop:
        if (now > agent.lease_valid_until()) {
          // The safety rule's margin was not enough (docs/design/resources.md, "Margins").
          Log(LogLevel::kError, "resources",
              "stop ended after this node's lease could have ended: the resource may have "
              "run on two nodes; raise [resources] fence_margin_ms above its stop time",
              {{"resource", name}, {"stop", o.detail}});
        }
        agent.Stopped(name, o.ok);
        break;
      default:
        agent.Monitored(name, o.monitor, now);
        break;
    }
    Drive();
  });
  switch (kind) {
    case ActionKind::kStart:
      return runner.Start(spec, std::move(done));
    case ActionKind::kStop:
      return runner.Stop(spec, std::move(done));
    case ActionKind::kPromote:
    case ActionKind::kDemote:
      return runner.Promote(spec, kind == ActionKind::kPromote, std::move(done));
    default:
      return runner.Monitor(spec, std::move(done));
  }
}

// This node is the only writer of its own fail count (`clear` deletes it).
void ResourceService::Impl::RecordFailure(const std::string& name) {
  const NodeId self = node.membership().self();
  uint32_t seen = 0;
  if (auto r = mirror.fails.find(name); r != mirror.fails.end()) {
    if (auto f = r->second.find(self); f != r->second.end()) seen = f->second;
  }
  const uint32_t count = std::max(seen, failures_written[name]) + 1;
  failures_written[name] = count;
  const Records where = Where();
  if (where.backend == nullptr) return;
  where.backend->Put(where.prefix + resources::KeyOf({RecordKey::Kind::kFails, name, self}),
                     std::to_string(count), Later([this](Result<int64_t> r) {
                       if (!r) return void(++metrics.registry_errors);
                       Wrote(*r);
                     }));
}

void ResourceService::Impl::Report(const std::string& name) {
  const NodeId self = node.membership().self();
  resources::StatusRecord r;
  r.node = self;
  r.state = resources::StateName(agent.state(name));
  if (agent.promoted(name) && agent.state(name) != resources::LocalState::kPromoting) {
    r.role = "promoted";
  }
  if (auto e = last_error.find(name); e != last_error.end()) r.error = e->second;
  r.at_ms = static_cast<int64_t>(io::WallMillis());
  const Records where = Where();
  if (where.backend == nullptr) return;
  where.backend->Put(where.prefix + resources::KeyOf({RecordKey::Kind::kStatus, name, self}),
                     resources::EncodeStatus(r), Later([this](Result<int64_t> put) {
                       if (!put) return void(++metrics.registry_errors);
                       Wrote(*put);
                     }));
}

void ResourceService::Impl::Wrote(int64_t revision) {
  if (!synced || revision <= seen_revision || awaited_revision != 0) return;
  awaited_revision = revision;
  awaited_since = io::SteadyNow();
}

void ResourceService::Impl::CheckWatch() {
  if (!synced || awaited_revision == 0 || io::SteadyNow() - awaited_since < kWatchSilence) return;
  Log(LogLevel::kWarn, "resources", "registry watch silent; reading the records again",
      {{"awaited_revision", std::to_string(awaited_revision)},
       {"seen_revision", std::to_string(seen_revision)}});
  awaited_revision = 0;
  synced = false;
  if (watch && watched.backend != nullptr) watched.backend->CancelWatch(*watch);
  watch.reset();
}

void ResourceService::Impl::Notify() {
  std::vector<std::function<void()>> fns;
  for (const auto& [id, fn] : listeners) fns.push_back(fn);
  for (auto& fn : fns) fn();
}

ResourceService::ResourceService(Node& node, RecordsSource records, asio::io_context& io,
                                 Options options)
    : impl_(std::make_unique<Impl>(node, std::move(records), io, std::move(options))) {}

ResourceService::~ResourceService() {
  *impl_->alive = false;
  *impl_->cancel_scan = true;
  if (impl_->watch && impl_->watched.backend != nullptr) {
    impl_->watched.backend->CancelWatch(*impl_->watch);
  }
}

void ResourceService::Start() {
  impl_->Tick();
  impl_->AliveTick();
  // A node declared failed is placed elsewhere at once, not at the next tick. Posted: the
  // decision must not run inside the membership's own step.
  Impl* impl = impl_.get();
  impl->node.OnMembershipChanged([impl, alive = impl->alive] {
    if (!*alive) return;
    asio::post(impl->io, [impl, alive] {
      if (*alive) impl->Drive();
    });
  });
}

// Nothing is placed here any more: the agent stops everything and gives the keys back.
// Then the lease is revoked, so that keys this node could not give back go at once too.
void ResourceService::Stop(Duration limit, std::function<void()> done) {
  Impl* impl = impl_.get();
  if (impl->stopping) return done();
  impl->stopping = true;
  impl->stop_done = std::move(done);
  impl->stop_deadline = io::SteadyNow() + limit;
  impl->agent.SetStopping();
  impl->Drive();
  impl->CheckStopped();
}

void ResourceService::Impl::CheckStopped() {
  if (!stop_done) return;
  const bool late = io::SteadyNow() >= stop_deadline;
  bool busy = false;
  for (const auto& [name, state] : agent.states()) {
    busy = busy || state != resources::LocalState::kIdle;
  }
  auto again = [this](Duration after) {
    stop_timer.expires_after(std::chrono::nanoseconds(std::max<int64_t>(0, after.nanos())));
    stop_timer.async_wait([this, alive = alive](boost::system::error_code ec) {
      if (!ec && *alive) CheckStopped();
    });
  };
  if (!late && busy) return again(Duration::Millis(20));
  const Records where = Where();
  if (!late && !revoking && where.backend != nullptr && agent.lease() != 0) {
    revoking = true;
    where.backend->RevokeLease(agent.lease(), Later([this](Result<Ok>) { FinishStop(); }));
    return again(stop_deadline - io::SteadyNow());  // at the latest then
  }
  if (!late && revoking) return again(stop_deadline - io::SteadyNow());
  FinishStop();
}

void ResourceService::Impl::FinishStop() {
  if (!stop_done) return;
  runner.KillAll();
  tick.cancel();
  alive_timer.cancel();
  wakeup.Cancel();
  stop_timer.cancel();
  if (watch && watched.backend != nullptr) watched.backend->CancelWatch(*watch);
  watch.reset();
  auto done = std::move(stop_done);
  stop_done = nullptr;
  *alive = false;
  *cancel_scan = true;
  done();
}

bool ResourceService::synced() const { return impl_->synced; }
NodeId ResourceService::self() const { return impl_->node.membership().self(); }
const ResourceMetrics& ResourceService::metrics() const { return impl_->metrics; }
std::map<std::string, resources::LocalState> ResourceService::LocalStates() const {
  return impl_->agent.states();
}

uint64_t ResourceService::Subscribe(std::function<void()> fn) {
  const uint64_t id = impl_->next_listener++;
  impl_->listeners[id] = std::move(fn);
  return id;
}

void ResourceService::Unsubscribe(uint64_t id) { impl_->listeners.erase(id); }

}  // namespace cohort::node
