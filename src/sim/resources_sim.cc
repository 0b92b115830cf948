#include "sim/resources_sim.h"

#include <algorithm>

namespace cohort::sim {

using resources::Action;
using resources::ActionKind;
using resources::LocalState;

namespace {

constexpr int64_t kStepMs = 10;
constexpr int64_t kEtcdCheckMs = 500;  // etcd looks for expired leases this often

bool Active(LocalState s) {
  return s == LocalState::kStarting || s == LocalState::kRunning || s == LocalState::kMonitoring ||
         s == LocalState::kPromoting || s == LocalState::kDemoting || s == LocalState::kStopping ||
         s == LocalState::kBlocked;
}

bool Running(LocalState s) { return s == LocalState::kRunning || s == LocalState::kMonitoring; }

}  // namespace

// Resources r1…rK: every third needs the disk "media"; r2 must run with r1, r4 after r3;
// r5 is promotable.
ResourcesSim::ResourcesSim(ResourcesSimOptions options)
    : options_(options), prng_(options.seed ^ 0x5e50u) {
  const int count = options_.resources > 0 ? options_.resources : options_.nodes + 2;
  for (int i = 1; i <= count; ++i) {
    resources::ResourceSpec s;
    s.name = "r" + std::to_string(i);
    s.agent = "heartbeat:Dummy";
    s.monitor_interval = Duration::Millis(200 + 100 * (i % 3));
    s.migration_threshold = 3;
    if (i % 3 == 0) s.disks = {"media"};
    if (i == 2) s.with = {"r1"};
    if (i == 4) s.after = {"r3"};
    if (i == 5) s.promotable = true;
    specs_[s.name] = s;
  }
  for (int n = 1; n <= options_.nodes; ++n) {
    const NodeId id = static_cast<NodeId>(n);
    nodes_[id].agent = NewAgent(id);
  }
}

std::unique_ptr<resources::LocalAgent> ResourcesSim::NewAgent(NodeId id) const {
  return std::make_unique<resources::LocalAgent>(id, Duration::Millis(options_.margin_ms),
                                                 Duration::Millis(options_.alive_ttl_ms));
}

bool ResourcesSim::RunUntil(const std::function<bool()>& done, int64_t limit_ms) {
  const int64_t end = now_ + limit_ms;
  while (now_ < end) {
    if (!violations_.empty()) return false;
    if (done()) return true;
    Step();
  }
  return violations_.empty() && done();
}

void ResourcesSim::Crash(NodeId id) {
  Node& n = nodes_.at(id);
  if (!n.agent) return;
  n.agent.reset();
  n.busy.clear();
  n.lease = 0;
  n.alive_lease = 0;
  n.alive_revision = 0;
  n.seen.clear();
  if (n.down_since < 0) n.down_since = now_;
  Trace(0xc0 + id);
}

void ResourcesSim::Restart(NodeId id) {
  Node& n = nodes_.at(id);
  if (n.agent) return;
  n.agent = NewAgent(id);
  n.next_renew = now_;
  if (!n.cut) n.down_since = -1;
  Trace(0xd0 + id);
}

void ResourcesSim::Partition(const std::set<NodeId>& minority) {
  for (auto& [id, n] : nodes_) {
    n.cut = minority.count(id) != 0;
    if (n.cut && n.down_since < 0) n.down_since = now_;
    if (!n.cut && n.agent) n.down_since = -1;
  }
  Trace(0xe0 + minority.size());
}

void ResourcesSim::SetDisk(NodeId id, bool ok) {
  nodes_.at(id).disk_ok = ok;
  Trace(0xf0 + id * 2 + ok);
}

NodeId ResourcesSim::supervisor() const {
  for (const auto& [id, n] : nodes_) {
    if (n.agent && !n.cut) return id;
  }
  return kNoNode;
}

bool ResourcesSim::NeedsDisk(const std::string& name) const {
  return !specs_.at(name).disks.empty();
}

void ResourcesSim::Step() {
  now_ += kStepMs;
  ExpireLeases();
  PlaceAsSupervisor();
  const resources::RegistryView view = View();
  for (auto& [id, n] : nodes_) {
    if (!n.agent) continue;
    Renew(id, n);
    RenewAlive(id, n);
    Finish(id, n);
    if (!n.cut) n.agent->SetView(ViewOf(n, view));  // a cut-off node's view goes stale
    for (const Action& a : n.agent->Decide(Now())) Carry(id, n, a);
  }
  Check();
}

void ResourcesSim::ExpireLeases() {
  for (auto it = leases_.begin(); it != leases_.end();) {
    if (now_ < it->second.expiry + it->second.check_lag) {
      ++it;
      continue;
    }
    const int64_t lease = it->first;
    ++it;
    EndLease(lease);
  }
}

// The lease ends (expired or revoked): its keys go.
void ResourcesSim::EndLease(int64_t lease) {
  for (auto o = owners_.begin(); o != owners_.end();) {
    o = o->second.second == lease ? owners_.erase(o) : std::next(o);
  }
  for (auto a = alive_.begin(); a != alive_.end();) {
    a = a->second.lease == lease ? alive_.erase(a) : std::next(a);
  }
  leases_.erase(lease);
}

// The facts as the supervisor's membership has them: a node down (crashed or cut off) is
// seen so only detect_ms later.
resources::PlacementInput ResourcesSim::Facts() const {
  resources::PlacementInput in;
  in.specs = specs_;
  for (const auto& [id, n] : nodes_) {
    resources::NodeFacts f;
    f.id = id;
    f.up = n.down_since < 0 || now_ - n.down_since < options_.detect_ms;
    if (n.disk_ok) f.disks_ok.insert("media");
    in.nodes.push_back(f);
  }
  for (const auto& [name, owner] : owners_) in.running[name] = owner.first;
  in.fail_counts = fails_;
  return in;
}

void ResourcesSim::PlaceAsSupervisor() {
  if (supervisor() == kNoNode) return;
  for (const auto& [name, p] : resources::Place(Facts())) {
    if (placed_[name] != p.node) Trace(0x100 + p.node);
    placed_[name] = p.node;
  }
}

resources::RegistryView ResourcesSim::View() const {
  resources::RegistryView v;
  v.specs = specs_;
  v.placed = placed_;
  v.owners = owners_;
  v.fail_counts = fails_;
  for (const auto& [name, owner] : owners_) {
    auto r = reported_.find(name);
    if (r == reported_.end()) continue;
    auto s = r->second.find(owner.first);
    if (s != r->second.end() && Running(s->second)) v.running.insert(name);
  }
  return v;
}

resources::RegistryView ResourcesSim::ViewOf(Node& n, const resources::RegistryView& common) {
  if (options_.alive_ttl_ms == 0) return common;
  resources::RegistryView v = common;
  std::map<NodeId, std::pair<int64_t, int64_t>> seen;
  for (const auto& [id, key] : alive_) {
    auto was = n.seen.find(id);
    const bool same = was != n.seen.end() && was->second.first == key.revision;
    seen[id] = {key.revision, same ? was->second.second : now_};
    v.alive[id] = {key.lease, key.revision, key.taken,
                   Instant::FromNanos(seen[id].second * 1'000'000)};
  }
  n.seen = std::move(seen);
  return v;
}

// As the daemon (node/resource_takeover.cc): a new lease's key put as it is, then swaps on
// the revision of the last answer; a failed swap reads the key back.
void ResourcesSim::RenewAlive(NodeId id, Node& n) {
  if (options_.alive_ttl_ms == 0 || now_ < n.next_alive) return;
  n.next_alive = now_ + options_.alive_renew_ms;
  if (n.cut || n.lease == 0 || leases_.count(n.lease) == 0) return;
  if (n.alive_lease != n.lease) {
    n.alive_lease = n.lease;
    n.alive_revision = 0;
  }
  auto it = alive_.find(id);
  const bool swapped = n.alive_revision == 0 || (it != alive_.end() && !it->second.taken &&
                                                 it->second.revision == n.alive_revision);
  if (swapped) {
    alive_[id] = {n.lease, ++revision_, false};
    if (prng_.Chance(options_.alive_answer_lost)) return;
    n.alive_revision = revision_;
    n.agent->AliveRenewed(n.lease, Now());
    return;
  }
  if (it != alive_.end() && it->second.lease == n.lease && !it->second.taken) {
    n.alive_revision = it->second.revision;  // its own write, whose answer was lost
    return;
  }
  Trace(0x300 + id);  // taken over: everything stops, the lease is revoked, another granted
  n.agent->LeaseLost();
  EndLease(n.lease);
  n.lease = 0;
  n.next_renew = now_;
}

// On the revisions the node decided on; marks the holder's alive key taken.
void ResourcesSim::TakeOver(NodeId id, Node& n, const std::string& name) {
  const resources::RegistryView& v = n.agent->view();
  const auto held = v.owners.find(name);
  bool ok = !n.cut && held != v.owners.end() && leases_.count(n.lease) != 0;
  auto current = owners_.find(name);
  ok = ok && current != owners_.end() && current->second == held->second;
  if (ok) {
    const auto seen = v.alive.find(held->second.first);
    const auto key = alive_.find(held->second.first);
    ok = seen != v.alive.end() && key != alive_.end() &&
         key->second.revision == seen->second.revision;
    if (ok) {
      current->second = {id, n.lease};
      key->second.taken = true;
      key->second.revision = ++revision_;
      Trace(0x400 + id);
    }
  }
  n.agent->Acquired(name, ok);
}

void ResourcesSim::Renew(NodeId id, Node& n) {
  if (now_ < n.next_renew) return;
  n.next_renew = now_ + options_.renew_ms;
  if (n.cut) return;
  const int64_t arrives = now_ + static_cast<int64_t>(prng_.Below(20));
  if (n.lease == 0 || leases_.count(n.lease) == 0) {
    if (n.lease != 0) n.agent->LeaseLost();
    n.lease = next_lease_++;
    leases_[n.lease] = {arrives + options_.ttl_ms, static_cast<int64_t>(prng_.Below(kEtcdCheckMs))};
    Trace(0x200 + id);
  } else {
    Lease& l = leases_[n.lease];
    l.expiry = std::max(l.expiry, arrives + options_.ttl_ms);
  }
  n.agent->LeaseValid(n.lease, Instant::FromNanos((now_ + options_.ttl_ms) * 1'000'000));
}

void ResourcesSim::Finish(NodeId id, Node& n) {
  for (auto it = n.busy.begin(); it != n.busy.end();) {
    if (now_ < it->second.ends) {
      ++it;
      continue;
    }
    const std::string name = it->first;
    const ActionKind kind = it->second.kind;
    const bool killed = it->second.cancelled;
    it = n.busy.erase(it);
    // A cancelled action (killed at the fence) fails, as one whose disk is gone does.
    const bool fails = killed || (NeedsDisk(name) && !n.disk_ok);
    Trace((static_cast<uint64_t>(kind) << 16) + id);
    switch (kind) {
      case ActionKind::kStart:
        n.agent->Started(name, !fails, Now());
        break;
      case ActionKind::kMonitor: {
        const auto running = n.agent->promoted(name) ? resources::MonitorResult::kRunningPromoted
                                                     : resources::MonitorResult::kRunning;
        n.agent->Monitored(name,
                           fails ? resources::MonitorResult::kFailed
                           : prng_.Chance(options_.monitor_failure)
                               ? resources::MonitorResult::kNotRunning
                               : running,
                           Now());
        break;
      }
      case ActionKind::kPromote:
        n.agent->Promoted(name, !fails, Now());
        break;
      case ActionKind::kDemote:
        n.agent->Demoted(name, true);
        break;
      case ActionKind::kStop:
        n.agent->Stopped(name, true);
        break;
      default:
        break;
    }
  }
}

void ResourcesSim::Carry(NodeId id, Node& n, const Action& a) {
  ++actions_;
  Trace((static_cast<uint64_t>(a.kind) << 24) + (static_cast<uint64_t>(id) << 8) +
        a.resource.size());
  auto lasts = [&](int64_t max) { return now_ + 1 + static_cast<int64_t>(prng_.Below(max)); };
  switch (a.kind) {
    case ActionKind::kAcquire: {
      const bool ok = !n.cut && owners_.count(a.resource) == 0 && leases_.count(n.lease) != 0;
      if (ok) owners_[a.resource] = {id, n.lease};
      n.agent->Acquired(a.resource, ok);
      break;
    }
    case ActionKind::kTakeOver:
      TakeOver(id, n, a.resource);
      break;
    case ActionKind::kRelease: {
      auto o = owners_.find(a.resource);
      if (!n.cut && o != owners_.end() && o->second.first == id) owners_.erase(o);
      n.agent->Released(a.resource);
      break;
    }
    case ActionKind::kStart:
      n.busy[a.resource] = {a.kind, lasts(options_.max_start_ms)};
      break;
    case ActionKind::kMonitor:
      n.busy[a.resource] = {a.kind, lasts(options_.max_monitor_ms)};
      break;
    // Half a start and half a monitor: a promote under way, a demote and a stop fit the margin.
    case ActionKind::kPromote:
      n.busy[a.resource] = {a.kind, lasts(options_.max_start_ms / 2)};
      break;
    case ActionKind::kDemote:
      n.busy[a.resource] = {a.kind, lasts(options_.max_monitor_ms / 2)};
      break;
    case ActionKind::kStop:
      n.busy[a.resource] = {a.kind, lasts(options_.max_stop_ms)};
      break;
    case ActionKind::kRecordFailure:
      if (!n.cut) ++fails_[a.resource][id];
      break;
    case ActionKind::kReport:
      if (!n.cut) reported_[a.resource][id] = n.agent->state(a.resource);
      break;
    case ActionKind::kCancel:
      if (auto b = n.busy.find(a.resource); b != n.busy.end() &&
                                            b->second.kind != ActionKind::kStop &&
                                            b->second.kind != ActionKind::kDemote) {
        b->second.ends = now_;  // killed: its end comes at the next step
        b->second.cancelled = true;
      }
      break;
  }
}

void ResourcesSim::Check() {
  for (const auto& [name, spec] : specs_) {
    std::vector<NodeId> at;
    for (const auto& [id, n] : nodes_) {
      if (n.agent && Active(n.agent->state(name))) at.push_back(id);
    }
    if (at.size() > 1) {
      violations_.push_back(name + " active on nodes " + std::to_string(at[0]) + " and " +
                            std::to_string(at[1]) + " at " + std::to_string(now_) + " ms");
      return;
    }
  }
}

NodeId ResourcesSim::RunningOn(const std::string& name) const {
  for (const auto& [id, n] : nodes_) {
    if (n.agent && Running(n.agent->state(name))) return id;
  }
  return kNoNode;
}

std::vector<std::string> ResourcesSim::RunningAt(NodeId node) const {
  std::vector<std::string> out;
  const Node& n = nodes_.at(node);
  if (!n.agent) return out;
  for (const auto& [name, spec] : specs_) {
    if (Running(n.agent->state(name))) out.push_back(name);
  }
  return out;
}

bool ResourcesSim::Settled(std::string* why) const {
  const auto want = resources::Place(Facts());
  for (const auto& [name, p] : want) {
    for (const auto& [id, n] : nodes_) {
      if (!n.agent) continue;
      const LocalState s = n.agent->state(name);
      const bool promoted = !specs_.at(name).promotable || n.agent->promoted(name);
      const bool ok = id == p.node ? Running(s) && promoted : !Active(s);
      if (!ok) {
        if (why != nullptr) {
          *why = name + " is " + resources::StateName(s) + " on node " + std::to_string(id) +
                 " (placed: " + (p.node == kNoNode ? "nowhere" : std::to_string(p.node)) + ")";
        }
        return false;
      }
    }
  }
  return true;
}

}  // namespace cohort::sim
