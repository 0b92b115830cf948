#include "resources/agent.h"

#include <algorithm>

namespace cohort::resources {

const char* StateName(LocalState s) {
  switch (s) {
    case LocalState::kIdle:
      return "stopped";
    case LocalState::kAcquiring:
      return "acquiring";
    case LocalState::kStarting:
      return "starting";
    case LocalState::kRunning:
      return "running";
    case LocalState::kMonitoring:
      return "running";
    case LocalState::kPromoting:
      return "promoting";
    case LocalState::kDemoting:
      return "demoting";
    case LocalState::kStopping:
      return "stopping";
    case LocalState::kReleasing:
      return "releasing";
    case LocalState::kBlocked:
      return "blocked";
  }
  return "?";
}

LocalAgent::LocalAgent(NodeId self, Duration fence_margin, Duration alive_ttl)
    : self_(self), fence_margin_(fence_margin), alive_ttl_(alive_ttl) {}

void LocalAgent::LeaseValid(int64_t lease, Instant valid_until) {
  if (lease != lease_) {
    // A new lease holds no key yet, whatever the old one held, nor an alive key.
    for (auto& [name, l] : local_) l.owned = false;
    alive_valid_until_ = Instant::FromNanos(0);
  }
  // A late answer to an earlier renewal must not shorten what a later one granted.
  lease_valid_until_ = lease == lease_ ? std::max(lease_valid_until_, valid_until) : valid_until;
  lease_ = lease;
}

void LocalAgent::LeaseLost() {
  lease_ = 0;
  lease_valid_until_ = Instant::FromNanos(0);
  alive_valid_until_ = Instant::FromNanos(0);
  for (auto& [name, l] : local_) l.owned = false;
}

void LocalAgent::AliveRenewed(int64_t lease, Instant sent) {
  if (lease != lease_ || lease_ == 0) return;  // an answer for a lease given up since
  alive_valid_until_ = std::max(alive_valid_until_, sent + alive_ttl_);
}

Instant LocalAgent::lease_valid_until() const {
  if (alive_ttl_.nanos() <= 0) return lease_valid_until_;
  return std::min(lease_valid_until_, alive_valid_until_);
}

bool LocalAgent::Fenced(Instant now) const {
  return lease_ == 0 || now >= lease_valid_until() - fence_margin_;
}

bool LocalAgent::Takeable(const std::string& name, Instant now) const {
  if (alive_ttl_.nanos() <= 0) return false;
  const auto o = view_.owners.find(name);
  if (o == view_.owners.end() || o->second.first == self_ || o->second.first == kNoNode) {
    return false;
  }
  // Only an alive key that stands for the owner key's lease says anything about it.
  const auto a = view_.alive.find(o->second.first);
  if (a == view_.alive.end() || a->second.lease != o->second.second) return false;
  return a->second.taken || now - a->second.seen_since >= AliveWait(a->second);
}

void LocalAgent::Set(const std::string& name, Local& l, LocalState s) {
  if (StateName(l.state) != StateName(s)) report_.insert(name);
  l.state = s;
}

void LocalAgent::Acquired(const std::string& name, bool ok) {
  Local& l = At(name);
  if (l.state != LocalState::kAcquiring) return;
  l.owned = ok && lease_ != 0;
  Set(name, l, LocalState::kIdle);
}

void LocalAgent::Started(const std::string& name, bool ok, Instant now) {
  Local& l = At(name);
  if (l.state != LocalState::kStarting) return;
  if (ok) {
    return Running(name, l, now);
  }
  // A failed start may have left parts running: stop it, as Pacemaker does.
  Unsuccessful(name, l);
}

void LocalAgent::Monitored(const std::string& name, MonitorResult result, Instant now) {
  Local& l = At(name);
  if (l.state != LocalState::kMonitoring) return;
  // A promoted resource found running but not promoted has failed its role.
  const bool ok = result == MonitorResult::kRunningPromoted ||
                  (result == MonitorResult::kRunning && !l.promoted);
  if (ok) {
    return Running(name, l, now);
  }
  Unsuccessful(name, l);
}

void LocalAgent::Promoted(const std::string& name, bool ok, Instant now) {
  Local& l = At(name);
  if (l.state != LocalState::kPromoting) return;
  if (!ok) return Unsuccessful(name, l);
  report_.insert(name);  // its role changed
  Running(name, l, now);
}

void LocalAgent::Demoted(const std::string& name, bool ok) {
  Local& l = At(name);
  if (l.state != LocalState::kDemoting) return;
  if (ok) l.promoted = false;  // else it may still be: its stop clears it, or it stays blocked
  report_.insert(name);
  Set(name, l, LocalState::kStopping);
  pending_.push_back({ActionKind::kStop, name});
}

bool LocalAgent::Promotable(const std::string& name) const {
  auto spec = view_.specs.find(name);
  return spec != view_.specs.end() && spec->second.promotable;
}

void LocalAgent::Leave(const std::string& name, Local& l, std::vector<Action>& out) {
  l.next_monitor = Instant::Max();
  if (l.promoted) {
    Set(name, l, LocalState::kDemoting);
    out.push_back({ActionKind::kDemote, name});
  } else {
    Set(name, l, LocalState::kStopping);
    out.push_back({ActionKind::kStop, name});
  }
}

// Running (again): the next monitor is one interval away.
void LocalAgent::Running(const std::string& name, Local& l, Instant now) {
  // It ended before the cancel could: stopped if still fenced, as anything running is; kept
  // if the lease was renewed since.
  l.cancelled = false;
  Set(name, l, LocalState::kRunning);
  auto spec = view_.specs.find(name);
  l.next_monitor =
      now + (spec == view_.specs.end() ? Duration::Seconds(10) : spec->second.monitor_interval);
}

void LocalAgent::Failed(const std::string& name, Local& l) {
  ++l.failures;
  l.restart = true;
  pending_.push_back({ActionKind::kRecordFailure, name});
  Leave(name, l, pending_);
}

void LocalAgent::Unsuccessful(const std::string& name, Local& l) {
  if (!l.cancelled) return Failed(name, l);
  // Ended by this node's fence, not by the resource: what it left is stopped, uncounted.
  l.cancelled = false;
  l.restart = false;
  Leave(name, l, pending_);
}

void LocalAgent::Stopped(const std::string& name, bool ok) {
  Local& l = At(name);
  if (l.state != LocalState::kStopping) return;
  l.next_monitor = Instant::Max();
  if (ok) l.promoted = false;  // a stop that failed leaves it as it was
  Set(name, l, ok ? LocalState::kIdle : LocalState::kBlocked);
}

void LocalAgent::Released(const std::string& name) {
  Local& l = At(name);
  l.owned = false;
  if (l.state == LocalState::kReleasing) Set(name, l, LocalState::kIdle);
}

void LocalAgent::Clear(const std::string& name) {
  auto it = local_.find(name);
  if (it == local_.end()) return;
  it->second.failures = 0;
  if (it->second.state == LocalState::kBlocked) {
    it->second.promoted = false;  // the operator has dealt with what ran
    Set(name, it->second, LocalState::kIdle);
  }
}

uint32_t LocalAgent::FailCount(const std::string& name, const Local& l) const {
  uint32_t seen = 0;
  if (auto r = view_.fail_counts.find(name); r != view_.fail_counts.end()) {
    if (auto f = r->second.find(self_); f != r->second.end()) seen = f->second;
  }
  return std::max(seen, l.failures);
}

bool LocalAgent::WantHere(const std::string& name, Instant now) const {
  if (stopping_) return false;
  auto spec = view_.specs.find(name);
  if (spec == view_.specs.end() || spec->second.target == TargetRole::kStopped) return false;
  auto placed = view_.placed.find(name);
  if (placed == view_.placed.end() || placed->second != self_) return false;
  if (Fenced(now)) return false;
  auto l = local_.find(name);
  const uint32_t threshold = spec->second.migration_threshold;
  return l == local_.end() || threshold == 0 || FailCount(name, l->second) < threshold;
}

void LocalAgent::Step(const std::string& name, Local& l, Instant now, std::vector<Action>& out) {
  const bool want = WantHere(name, now);
  switch (l.state) {
    case LocalState::kIdle: {
      // The key with this node's lease, where this node does not know it holds it: a take
      // whose answer was lost. Given back, never trusted: the view may be older than a
      // release of this node's own.
      const auto o = view_.owners.find(name);
      const bool unknown_key_of_mine = !l.owned && lease_ != 0 && o != view_.owners.end() &&
                                       o->second == std::make_pair(self_, lease_);
      if (unknown_key_of_mine) {
        Set(name, l, LocalState::kReleasing);
        out.push_back({ActionKind::kRelease, name});
      } else if (want && l.owned) {
        const ResourceSpec& spec = view_.specs.at(name);
        const bool ready = std::all_of(spec.after.begin(), spec.after.end(),
                                       [&](auto& dep) { return view_.running.count(dep) != 0; });
        if (!ready) break;
        l.restart = false;
        Set(name, l, LocalState::kStarting);
        out.push_back({ActionKind::kStart, name});
      } else if (want && o == view_.owners.end()) {
        Set(name, l, LocalState::kAcquiring);
        out.push_back({ActionKind::kAcquire, name});
      } else if (want && !l.owned && Takeable(name, now)) {
        Set(name, l, LocalState::kAcquiring);
        out.push_back({ActionKind::kTakeOver, name});
      } else if (!want && l.owned) {
        Set(name, l, LocalState::kReleasing);
        out.push_back({ActionKind::kRelease, name});
      }
      break;
    }
    case LocalState::kRunning:
      // Without the key (the lease changed or was lost while an action ran): stop.
      if (!want || !l.owned) {
        l.restart = false;
        Leave(name, l, out);
      } else if (Promotable(name) && !l.promoted) {
        l.promoted = true;
        Set(name, l, LocalState::kPromoting);
        out.push_back({ActionKind::kPromote, name});
      } else if (now >= l.next_monitor) {
        Set(name, l, LocalState::kMonitoring);
        out.push_back({ActionKind::kMonitor, name});
      }
      break;
    case LocalState::kStarting:
    case LocalState::kMonitoring:
    case LocalState::kPromoting:
      // Fenced with an action under way: it is ended now, so that the stop has the margin.
      if (Fenced(now) && !l.cancelled) {
        l.cancelled = true;
        out.push_back({ActionKind::kCancel, name});
      }
      break;
    default:
      break;  // a stop, demote or registry write is under way, or the resource is blocked
  }
}

std::vector<Action> LocalAgent::Decide(Instant now) {
  // A failure is recorded, and its stop asked, before anything else is decided.
  std::vector<Action> out;
  out.swap(pending_);
  std::set<std::string> names;
  for (const auto& [name, spec] : view_.specs) names.insert(name);
  for (const auto& [name, l] : local_) names.insert(name);
  for (const std::string& name : names) Step(name, At(name), now, out);
  for (const std::string& name : report_) out.push_back({ActionKind::kReport, name});
  report_.clear();
  return out;
}

Instant LocalAgent::NextWakeup(Instant now) const {
  Instant next = Instant::Max();
  for (const auto& [name, l] : local_) {
    if (l.state == LocalState::kRunning) next = std::min(next, l.next_monitor);
  }
  // The fence, while it is still ahead: once passed, nothing waits on it.
  if (lease_ != 0 && lease_valid_until() - fence_margin_ > now) {
    next = std::min(next, lease_valid_until() - fence_margin_);
  }
  // An owner key that becomes takeable once its holder's alive key has stood still long enough.
  if (alive_ttl_.nanos() > 0) {
    for (const auto& [name, owner] : view_.owners) {
      const auto a = view_.alive.find(owner.first);
      if (a == view_.alive.end() || a->second.taken || owner.first == self_) continue;
      const Instant at = a->second.seen_since + AliveWait(a->second);
      if (at > now && WantHere(name, now)) next = std::min(next, at);
    }
  }
  return next;
}

LocalState LocalAgent::state(const std::string& name) const {
  auto it = local_.find(name);
  return it == local_.end() ? LocalState::kIdle : it->second.state;
}

bool LocalAgent::promoted(const std::string& name) const {
  auto it = local_.find(name);
  return it != local_.end() && it->second.promoted;
}

std::map<std::string, LocalState> LocalAgent::states() const {
  std::map<std::string, LocalState> out;
  for (const auto& [name, l] : local_) out[name] = l.state;
  return out;
}

}  // namespace cohort::resources
