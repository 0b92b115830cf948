#include "membership/core.h"

#include <algorithm>

namespace cohort::membership {

MembershipCore::MembershipCore(MembershipOptions options, uint64_t seed)
    : options_(std::move(options)), prng_(seed) {
  CHECK(options_.self != kNoNode);
  CHECK(options_.miss_limit >= 1);
  for (const std::string& disk : options_.disks) {
    CHECK(ValidDiskId(disk));
    local_disks_[disk] = DiskPath{};
  }
  // Rank() runs for every notification: a sorted index, not a scan of the list.
  for (size_t i = 0; i < options_.priority.size(); ++i) {
    rank_.emplace_back(options_.priority[i], static_cast<uint32_t>(i));
  }
  std::stable_sort(rank_.begin(), rank_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
}

size_t MembershipCore::Rank(NodeId id) const {
  // The first listing of `id` counts (stable_sort kept the list's order among equal ids).
  auto it = std::lower_bound(rank_.begin(), rank_.end(), id,
                             [](const auto& entry, NodeId v) { return entry.first < v; });
  if (it != rank_.end() && it->first == id) return it->second;
  return options_.priority.size() + id;
}

bool MembershipCore::Outranks(NodeId a, NodeId b) const { return Rank(a) < Rank(b); }

void MembershipCore::Start(Instant now, Outputs& out) {
  (void)out;
  role_ = Role::kListening;
  // Listen for a supervisor for one notification time, with a little jitter so nodes that
  // start together do not all become one-node supervisors in the same instant.
  listen_until_ = now + options_.notify +
                  Duration::Nanos(static_cast<int64_t>(
                      prng_.Below(static_cast<uint64_t>(options_.period.nanos() / 2 + 1))));
  next_usage_ = now + options_.usage_period;
}

Instant MembershipCore::NextDeadline() const {
  Instant next = Instant::Max();
  switch (role_) {
    case Role::kListening:
      next = listen_until_;
      break;
    case Role::kSupervisor:
      next = std::min(next_notify_, publish_at_);
      break;
    case Role::kJoining:
    case Role::kMember:
    case Role::kLeaving:
      if (supervisor_ != kNoNode && !supervisor_confirm_) next = last_notify_ + options_.notify;
      break;
    case Role::kLeft:
      return Instant::Max();
  }
  next = std::min({next, next_join_, next_heartbeat_, next_usage_});
  if (supervisor_confirm_) next = std::min(next, supervisor_confirm_->next);
  if (predecessor_confirm_) next = std::min(next, predecessor_confirm_->next);
  if (PredecessorWatched()) {
    next = std::min(next, predecessor_heard_ + options_.period * options_.miss_limit);
  }
  return next;
}

void MembershipCore::Tick(Instant now, Outputs& out) {
  if (role_ == Role::kLeft) return;
  if (role_ == Role::kListening && now >= listen_until_) {
    // M3: nobody supervises: a one-node cluster of our own.
    map_.members.clear();
    map_.disks.clear();
    map_.members[self()] = Member{self(), MemberState::kUp, options_.incarnation};
    EnterSupervisor(now, out);
  }
  if (role_ == Role::kSupervisor && now >= publish_at_) SendMap(now, out);
  if (role_ == Role::kSupervisor && now >= next_notify_) {
    SendAll(NotifyMsg{self(), options_.incarnation, map_.version, map_.Digest()}, out);
    next_notify_ = now + options_.notify / 3;
  }
  const bool follower =
      role_ == Role::kJoining || role_ == Role::kMember || role_ == Role::kLeaving;
  if (follower && supervisor_ != kNoNode && now >= last_notify_ + options_.notify &&
      !supervisor_confirm_) {
    SupervisorSilent(now, out);
  }
  if (supervisor_confirm_ && now >= supervisor_confirm_->next) {
    RunConfirm(now, *supervisor_confirm_, out);
  }
  if (now >= next_join_) {
    if (role_ == Role::kJoining) {
      Send(supervisor_, JoinMsg{options_.incarnation, max_version_, LocalDiskStatuses()}, out);
    } else if (role_ == Role::kLeaving) {
      Send(supervisor_, LeaveMsg{options_.incarnation}, out);
    }
    next_join_ = (role_ == Role::kJoining || role_ == Role::kLeaving) ? now + options_.period
                                                                      : Instant::Max();
  }
  if (now >= next_heartbeat_) {
    const NodeId successor = Successor();
    if (successor != kNoNode) Send(successor, RingMsg{}, out);
    next_heartbeat_ = now + options_.period;
    // A path change the map does not show a period after it was reported was lost on its
    // way (the supervisor publishes within period / 10): report it again.
    if (role_ == Role::kMember && now >= last_disk_report_ + options_.period) {
      ResendDiskReports(now, out);
    }
  }
  if (now >= next_usage_) {
    if (role_ == Role::kMember && local_usage_) {
      Send(supervisor_, UsageMsg{options_.incarnation, *local_usage_}, out);
    }
    next_usage_ = now + options_.usage_period;
  }
  CheckPredecessor(now, out);
  if (predecessor_confirm_ && now >= predecessor_confirm_->next) {
    RunConfirm(now, *predecessor_confirm_, out);
  }
}

// ---- messages ----

void MembershipCore::OnMessage(Instant now, NodeId from, ByteView bytes, Outputs& out) {
  if (role_ == Role::kLeft || from == self() || from == kNoNode) return;
  auto msg = Decode(bytes);
  if (!msg) return;
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, NotifyMsg>) {
          OnNotify(now, from, m, out);
        } else if constexpr (std::is_same_v<T, MapRequestMsg>) {
          if (role_ == Role::kSupervisor) Send(from, MapMsg{map_}, out);
        } else if constexpr (std::is_same_v<T, MapMsg>) {
          OnMap(now, from, std::move(m.map), out);
        } else if constexpr (std::is_same_v<T, JoinMsg>) {
          OnJoin(now, from, m, out);
        } else if constexpr (std::is_same_v<T, LeaveMsg>) {
          OnLeave(now, from, m, out);
        } else if constexpr (std::is_same_v<T, RingMsg>) {
          OnRing(now, from, m, out);
        } else if constexpr (std::is_same_v<T, DeclareMsg>) {
          if (role_ == Role::kSupervisor) ApplyDeclaration(now, m.declaration, out);
        } else if constexpr (std::is_same_v<T, PingMsg>) {
          Send(from, AckMsg{m.nonce}, out);
        } else if constexpr (std::is_same_v<T, AckMsg>) {
          OnAck(now, from, m.nonce);
        } else if constexpr (std::is_same_v<T, DiskReportMsg>) {
          if (role_ == Role::kSupervisor && m.report.node == from) {
            OnDiskReport(now, m.report, out);
          }
        } else if constexpr (std::is_same_v<T, UsageMsg>) {
          OnUsage(now, from, m);
        } else if constexpr (std::is_same_v<T, UsageRequestMsg>) {
          if (role_ == Role::kSupervisor) Send(from, UsageTableMsg{m.nonce, UsageRows(now)}, out);
        } else if constexpr (std::is_same_v<T, UsageTableMsg>) {
          if (from == supervisor_) out.push_back(UsageReply{m.nonce, from, std::move(m.rows)});
        }
      },
      *msg);
}

void MembershipCore::OnNotify(Instant now, NodeId from, const NotifyMsg& n, Outputs& out) {
  if (n.supervisor != from) return;  // only a supervisor speaks for itself
  if (role_ == Role::kSupervisor) {
    // M3/M7: a higher-priority supervisor wins; we cease and join it.
    if (Outranks(from, self())) EnterJoining(now, from, out);
    return;
  }
  const bool follow = supervisor_ == kNoNode || from == supervisor_ ||
                      Outranks(from, supervisor_) || excluded_.count(supervisor_) ||
                      role_ == Role::kListening;
  if (!follow) return;
  if (role_ == Role::kListening) role_ = Role::kJoining;
  FollowSupervisor(now, from, out);
  if (n.version != map_.version || n.digest != map_.Digest() || map_.supervisor != from) {
    if (now >= next_map_request_) {
      Send(from, MapRequestMsg{}, out);
      next_map_request_ = now + options_.period / 2;
    }
  } else if (role_ == Role::kJoining && map_.IsUp(self()) &&
             map_.Find(self())->incarnation == options_.incarnation) {
    // Listed at this incarnation: an earlier one listed up (a restart, or a takeover of a
    // sub-cluster's node, whose join was lost) is not this one joined.
    role_ = Role::kMember;
    next_join_ = Instant::Max();
  }
}

void MembershipCore::FollowSupervisor(Instant now, NodeId supervisor, Outputs& out) {
  if (supervisor != supervisor_) {
    supervisor_ = supervisor;
    ++metrics_.supervisor_changes;
    out.push_back(
        MembershipEvent{MembershipEvent::Kind::kSupervisorChanged, supervisor, map_.version});
    // A new supervisor starts with empty usage tables: fill them soon.
    next_usage_ = std::min(next_usage_, now + options_.period * 2);
  }
  last_notify_ = now;
  excluded_.clear();
  supervisor_confirm_.reset();
}

void MembershipCore::OnMap(Instant now, NodeId from, ClusterMap m, Outputs& out) {
  if (TakeOverFromEarlierSelf(now, from, m, out)) return;
  if (role_ == Role::kSupervisor || from != supervisor_ || m.supervisor != from) return;
  const Member* me = m.Find(self());
  const bool listed =
      me != nullptr && me->state == MemberState::kUp && me->incarnation == options_.incarnation;
  const bool adopted = m.version >= map_.version;
  if (adopted) Adopt(now, m, out);
  if (role_ == Role::kLeaving) {
    if (!listed) {
      role_ = Role::kLeft;
      next_join_ = next_heartbeat_ = Instant::Max();
      out.push_back(MembershipEvent{MembershipEvent::Kind::kLeft, self(), map_.version});
    }
    return;
  }
  if (!m.IsUp(m.supervisor)) {
    // M8: the supervisor left: the next node by priority takes over at once.
    excluded_.insert(m.supervisor);
    ChooseSupervisor(now, out);
    return;
  }
  if (Outranks(self(), from) && map_.version == m.version) {
    // M7: a joining node of higher priority than the supervisor becomes supervisor; if it
    // then stays silent the old supervisor takes over again (see SupervisorSilent).
    map_.members[self()] = Member{self(), MemberState::kUp, options_.incarnation};
    EnterSupervisor(now, out);
    return;
  }
  if (listed && adopted) {
    role_ = Role::kMember;
    next_join_ = Instant::Max();
  } else if (role_ != Role::kJoining || next_join_ == Instant::Max()) {
    // Not listed (new, or marked failed while alive), or listed in a map older than ours:
    // post join requests (with our last version) until listed in a newer map.
    EnterJoining(now, from, out);
  }
}

bool MembershipCore::TakeOverFromEarlierSelf(Instant now, NodeId from, const ClusterMap& m,
                                             Outputs& out) {
  const Member* earlier = m.Find(self());
  if (m.supervisor != self() || earlier == nullptr || earlier->state != MemberState::kUp ||
      earlier->incarnation >= options_.incarnation || !m.IsUp(from)) {
    return false;
  }
  // The members still follow this node's id; its new process supervises from their map.
  // A member that missed the earlier process's last maps may hand it over before one that
  // did not: a newer map handed over later is taken instead, so no change is undone.
  const bool first = role_ == Role::kListening;
  const bool newer =
      role_ == Role::kSupervisor && taken_over_from_ && m.version > *taken_over_from_;
  if (!first && !newer) return false;
  taken_over_from_ = m.version;
  // EnterSupervisor lists this incarnation up and publishes a version above theirs.
  max_version_ = std::max(max_version_, m.version);
  map_ = m;
  ReplaceDiskPaths(self(), LocalDiskStatuses(), out);
  ++metrics_.takeovers_from_earlier_self;
  EnterSupervisor(now, out);
  return true;
}

void MembershipCore::OnPeerRestarted(Instant now, NodeId node, Incarnation incarnation,
                                     Outputs& out) {
  const bool following = role_ == Role::kMember || role_ == Role::kJoining;
  const Member* m = map_.Find(node);
  if (!following || node != supervisor_ || map_.supervisor != node || m == nullptr ||
      m->state != MemberState::kUp || m->incarnation >= incarnation) {
    return;
  }
  Send(node, MapMsg{map_}, out);
  // The new process starts with empty usage tables: fill them soon.
  next_usage_ = std::min(next_usage_, now + options_.period * 2);
}

void MembershipCore::Adopt(Instant now, ClusterMap m, Outputs& out) {
  const bool changed = m != map_;
  map_ = std::move(m);
  max_version_ = std::max(max_version_, map_.version);
  if (changed) {
    out.push_back(
        MembershipEvent{MembershipEvent::Kind::kMapChanged, map_.supervisor, map_.version});
  }
  RefreshRing(now);
}

void MembershipCore::OnJoin(Instant now, NodeId from, const JoinMsg& j, Outputs& out) {
  if (role_ != Role::kSupervisor) return;
  max_version_ = std::max(max_version_, j.last_version);
  const Member* m = map_.Find(from);
  if (m != nullptr && m->state == MemberState::kUp && m->incarnation == j.incarnation &&
      map_.version >= j.last_version) {
    Send(from, NotifyMsg{self(), options_.incarnation, map_.version, map_.Digest()}, out);
    return;
  }
  map_.members[from] = Member{from, MemberState::kUp, j.incarnation};
  ReplaceDiskPaths(from, j.disks, out);
  Publish(now, out);
}

void MembershipCore::ReplaceDiskPaths(NodeId node, const std::vector<DiskStatus>& disks,
                                      Outputs& out) {
  for (auto& [id, disk] : map_.disks) disk.paths.erase(node);
  for (const DiskStatus& d : disks) ApplyDiskStatus(node, d, out);
  std::erase_if(map_.disks, [](const auto& kv) { return kv.second.paths.empty(); });
}

void MembershipCore::OnLeave(Instant now, NodeId from, const LeaveMsg& l, Outputs& out) {
  if (role_ != Role::kSupervisor) return;
  auto it = map_.members.find(from);
  if (it != map_.members.end() && it->second.state == MemberState::kUp &&
      it->second.incarnation == l.incarnation) {
    it->second.state = MemberState::kLeft;
    Publish(now, out);
  } else {
    Send(from, MapMsg{map_}, out);  // already unlisted: tell it so
  }
}

void MembershipCore::OnRing(Instant now, NodeId from, const RingMsg& r, Outputs& out) {
  if (from == predecessor_) PredecessorHeard(now);
  std::vector<Declaration> fresh;
  for (const Declaration& d : r.declarations) {
    if (!seen_.insert(d).second) continue;
    if (role_ == Role::kSupervisor) {
      ApplyDeclaration(now, d, out);
    } else if (d.subject != self()) {
      fresh.push_back(d);
    }
  }
  std::vector<DiskReport> fresh_reports;
  for (const DiskReport& d : r.disk_reports) {
    auto& newest = reports_seen_[{d.node, d.status.disk}];
    if (std::pair{d.incarnation, d.status.seq} <= newest) continue;
    newest = {d.incarnation, d.status.seq};
    if (role_ == Role::kSupervisor) {
      OnDiskReport(now, d, out);
    } else if (d.node != self()) {
      fresh_reports.push_back(d);
    }
  }
  // Declarations and disk reports travel on at once rather than with the next status.
  const NodeId successor = Successor();
  if ((!fresh.empty() || !fresh_reports.empty()) && successor != kNoNode) {
    Send(successor, RingMsg{fresh, fresh_reports}, out);
  }
}

void MembershipCore::OnDiskReport(Instant now, const DiskReport& r, Outputs& out) {
  const Member* m = map_.Find(r.node);
  if (m == nullptr || m->state != MemberState::kUp || m->incarnation != r.incarnation) return;
  if (ApplyDiskStatus(r.node, r.status, out)) Publish(now, out);
}

bool MembershipCore::ApplyDiskStatus(NodeId node, const DiskStatus& status, Outputs& out) {
  using K = MembershipEvent::Kind;
  DiskEntry& disk = map_.disks[status.disk];
  auto it = disk.paths.find(node);
  if (it != disk.paths.end() && status.seq <= it->second.seq) return false;
  const PathState before = it == disk.paths.end() ? PathState::kOk : it->second.state;
  disk.paths[node] = DiskPath{status.state, status.seq};
  if (status.state != before) {
    const bool failed = status.state == PathState::kFailed;
    if (failed) ++metrics_.disk_path_failures;
    out.push_back(MembershipEvent{failed ? K::kDiskPathFailed : K::kDiskPathRestored, node,
                                  map_.version, status.disk});
  }
  if (status.state == PathState::kFailed && !disk.failed) {
    size_t reporters = 0;
    for (const auto& [id, path] : disk.paths) {
      if (path.state == PathState::kFailed && map_.IsUp(id)) ++reporters;
    }
    if (reporters >= kDiskFailureReports) {
      disk.failed = true;
      ++metrics_.disk_failures_declared;
      out.push_back(MembershipEvent{K::kDiskFailed, node, map_.version, status.disk});
    }
  } else if (status.state == PathState::kOk && before == PathState::kFailed && disk.failed) {
    // A node reaches the disk again: it works, whatever the other paths say.
    disk.failed = false;
    out.push_back(MembershipEvent{K::kDiskRestored, node, map_.version, status.disk});
  }
  return true;
}

void MembershipCore::OnDiskCheck(Instant now, const std::string& disk, bool ok, Outputs& out) {
  auto it = local_disks_.find(disk);
  if (it == local_disks_.end() || role_ == Role::kLeft) return;
  const PathState state = ok ? PathState::kOk : PathState::kFailed;
  if (it->second.state == state) return;
  it->second = DiskPath{state, it->second.seq + 1};
  ReportDisk(now, disk, out);
}

std::vector<DiskStatus> MembershipCore::LocalDiskStatuses() const {
  std::vector<DiskStatus> statuses;
  for (const auto& [id, path] : local_disks_) statuses.push_back({id, path.state, path.seq});
  return statuses;
}

void MembershipCore::ReportDisk(Instant now, const std::string& disk, Outputs& out) {
  const DiskPath& path = local_disks_.at(disk);
  const DiskReport report{self(), options_.incarnation, {disk, path.state, path.seq}};
  if (role_ == Role::kSupervisor) {
    if (ApplyDiskStatus(self(), report.status, out)) Publish(now, out);
    return;
  }
  // A joining node's requests carry its disks; a listed member sends the disk-failure
  // message round the ring (M11) and straight to the supervisor.
  if (role_ != Role::kMember) return;
  ++metrics_.disk_reports_sent;
  last_disk_report_ = now;
  reports_seen_[{self(), disk}] = {report.incarnation, path.seq};
  if (supervisor_ != kNoNode) Send(supervisor_, DiskReportMsg{report}, out);
  const NodeId successor = Successor();
  if (successor != kNoNode && successor != supervisor_) {
    Send(successor, RingMsg{{}, {report}}, out);
  }
}

void MembershipCore::ResendDiskReports(Instant now, Outputs& out) {
  for (const auto& [id, path] : local_disks_) {
    auto disk = map_.disks.find(id);
    const DiskPath* published = nullptr;
    if (disk != map_.disks.end()) {
      auto p = disk->second.paths.find(self());
      if (p != disk->second.paths.end()) published = &p->second;
    }
    if (published == nullptr || !(*published == path)) ReportDisk(now, id, out);
  }
}

// ---- usage (M12) ----

void MembershipCore::SetUsage(Instant now, NodeUsage usage) {
  if (role_ == Role::kSupervisor) usage_[self()] = UsageRecord{usage, now};
  local_usage_ = std::move(usage);
}

void MembershipCore::OnUsage(Instant now, NodeId from, const UsageMsg& u) {
  if (role_ != Role::kSupervisor) return;
  const Member* m = map_.Find(from);
  if (m == nullptr || m->state != MemberState::kUp || m->incarnation != u.incarnation) return;
  usage_[from] = UsageRecord{u.usage, now};
}

std::vector<UsageRow> MembershipCore::UsageRows(Instant now) const {
  std::vector<UsageRow> rows;
  for (const auto& [id, record] : usage_) {
    if (map_.IsUp(id)) rows.push_back(UsageRow{id, now - record.received, record.usage});
  }
  return rows;
}

void MembershipCore::RequestUsage(Instant now, uint64_t nonce, Outputs& out) {
  if (role_ == Role::kSupervisor) {
    if (local_usage_) usage_[self()] = UsageRecord{*local_usage_, now};
    out.push_back(UsageReply{nonce, self(), UsageRows(now)});
  } else if (supervisor_ == kNoNode || role_ == Role::kLeft) {
    out.push_back(UsageReply{nonce, kNoNode, {}});
  } else {
    Send(supervisor_, UsageRequestMsg{nonce}, out);
  }
}

void MembershipCore::OnAck(Instant now, NodeId from, uint64_t nonce) {
  for (auto* c : {&supervisor_confirm_, &predecessor_confirm_}) {
    if (*c && (*c)->target == from && (*c)->nonce == nonce) (*c)->acked = true;
  }
  if (supervisor_confirm_ && supervisor_confirm_->acked) {
    // The supervisor is alive; only its notifications were lost. Keep following it.
    last_notify_ = now;
    supervisor_confirm_.reset();
  }
  if (predecessor_confirm_ && predecessor_confirm_->acked) PredecessorHeard(now);
}

// ---- roles ----

void MembershipCore::EnterSupervisor(Instant now, Outputs& out) {
  const NodeId previous = map_.supervisor;
  if (previous != kNoNode && previous != self() && excluded_.count(previous) &&
      map_.IsUp(previous)) {
    // M5: the silent supervisor is marked failed by its successor.
    map_.members[previous].state = MemberState::kFailed;
    ++metrics_.failures_declared;
  }
  role_ = Role::kSupervisor;
  // Each role owns its timers: announce at once, whatever was left from an earlier term.
  publish_at_ = now;
  next_notify_ = now;
  map_.supervisor = self();
  map_.members[self()] = Member{self(), MemberState::kUp, options_.incarnation};
  for (const DiskStatus& d : LocalDiskStatuses()) ApplyDiskStatus(self(), d, out);
  usage_.clear();
  if (local_usage_) usage_[self()] = UsageRecord{*local_usage_, now};
  if (supervisor_ != self()) {
    supervisor_ = self();
    ++metrics_.supervisor_changes;
  }
  excluded_.clear();
  supervisor_confirm_.reset();
  next_join_ = Instant::Max();
  out.push_back(MembershipEvent{MembershipEvent::Kind::kBecameSupervisor, self(), 0});
  Publish(now, out);
}

void MembershipCore::EnterJoining(Instant now, NodeId supervisor, Outputs& out) {
  role_ = Role::kJoining;
  taken_over_from_.reset();
  publish_at_ = next_notify_ = Instant::Max();
  usage_.clear();
  FollowSupervisor(now, supervisor, out);
  Send(supervisor, JoinMsg{options_.incarnation, max_version_, LocalDiskStatuses()}, out);
  next_join_ = now + options_.period;
}

void MembershipCore::Publish(Instant now, Outputs& out) {
  map_.version = std::max(map_.version, max_version_) + 1;
  max_version_ = map_.version;
  out.push_back(MembershipEvent{MembershipEvent::Kind::kMapChanged, self(), map_.version});
  RefreshRing(now);
  // Changes that arrive together (a cluster forming, several joins) go out as one map.
  if (publish_at_ == Instant::Max()) publish_at_ = now + options_.period / 10;
}

void MembershipCore::SendMap(Instant now, Outputs& out) {
  // The full map goes out with every change so members need not ask for it.
  SendAll(MapMsg{map_}, out);
  SendAll(NotifyMsg{self(), options_.incarnation, map_.version, map_.Digest()}, out);
  next_notify_ = now + options_.notify / 3;
  publish_at_ = Instant::Max();
}

void MembershipCore::SupervisorSilent(Instant now, Outputs& out) {
  // M5, guarded: lost notifications are not a dead supervisor. Probe it directly first.
  supervisor_confirm_ = Confirm{supervisor_, prng_.Next(), 0, now, now, false};
  RunConfirm(now, *supervisor_confirm_, out);
}

void MembershipCore::ChooseSupervisor(Instant now, Outputs& out) {
  NodeId best = self();
  for (NodeId id : map_.Ring()) {
    if (!excluded_.count(id) && Outranks(id, best)) best = id;
  }
  if (best == self()) {
    EnterSupervisor(now, out);
    return;
  }
  // Give the chosen node a notification time to announce itself; the silent ones stay
  // excluded until some supervisor is heard again.
  if (best != supervisor_) {
    supervisor_ = best;
    ++metrics_.supervisor_changes;
    out.push_back(MembershipEvent{MembershipEvent::Kind::kSupervisorChanged, best, map_.version});
  }
  last_notify_ = now;
  supervisor_confirm_.reset();
}

void MembershipCore::RunConfirm(Instant now, Confirm& c, Outputs& out) {
  const bool is_supervisor = supervisor_confirm_.has_value() && &c == &*supervisor_confirm_;
  if (c.acked) return;
  if (c.sent < 3) {
    Send(c.target, PingMsg{c.nonce}, out);
    ++c.sent;
    c.next = c.sent < 3 ? now + options_.period / 3 : c.started + options_.period;
    return;
  }
  // Three probes over one period, none answered: act on the silence.
  const NodeId target = c.target;
  if (is_supervisor) {
    supervisor_confirm_.reset();
    excluded_.insert(target);
    ChooseSupervisor(now, out);
  } else {
    predecessor_confirm_.reset();
    // The watch goes on: if the declaration is lost on its way to the supervisor, the
    // predecessor stays in the map, is silent for another K periods, is probed again and
    // declared again, until the map no longer lists it up.
    predecessor_heard_ = now;
    const Member* m = map_.Find(target);
    if (m != nullptr) Declare(now, Declaration{target, m->incarnation}, out);
  }
}

// ---- ring (M9, M10) ----

void MembershipCore::RefreshRing(Instant now) {
  const auto ring = map_.Ring();
  auto me = std::find(ring.begin(), ring.end(), self());
  NodeId pred = kNoNode;
  if (me != ring.end() && ring.size() > 1) {
    pred = me == ring.begin() ? ring.back() : *std::prev(me);
  }
  if (pred != predecessor_) {
    predecessor_ = pred;
    predecessor_heard_ = now;
    predecessor_confirm_.reset();
  }
  if (me != ring.end() && next_heartbeat_ == Instant::Max()) next_heartbeat_ = now;
  if (me == ring.end()) next_heartbeat_ = Instant::Max();
  // Forget declarations about nodes that are no longer listed up.
  std::erase_if(declared_, [&](const Declaration& d) { return !map_.IsUp(d.subject); });
  std::erase_if(seen_, [&](const Declaration& d) {
    const Member* m = map_.Find(d.subject);
    return m == nullptr || m->incarnation != d.incarnation || m->state != MemberState::kUp;
  });
  std::erase_if(reports_seen_, [&](const auto& kv) { return !map_.IsUp(kv.first.first); });
  std::erase_if(usage_, [&](const auto& kv) { return !map_.IsUp(kv.first); });
}

NodeId MembershipCore::Successor() const {
  const auto ring = map_.Ring();
  auto me = std::find(ring.begin(), ring.end(), self());
  if (me == ring.end() || ring.size() < 2) return kNoNode;
  return std::next(me) == ring.end() ? ring.front() : *std::next(me);
}

bool MembershipCore::PredecessorWatched() const {
  return predecessor_ != kNoNode && !predecessor_confirm_ && map_.Find(predecessor_) != nullptr;
}

void MembershipCore::PredecessorHeard(Instant now) {
  predecessor_heard_ = now;
  predecessor_confirm_.reset();
  // Alive after all: a later silence is a new failure, declared (and counted) anew.
  std::erase_if(declared_, [&](const Declaration& d) { return d.subject == predecessor_; });
}

void MembershipCore::CheckPredecessor(Instant now, Outputs& out) {
  if (!PredecessorWatched()) return;
  if (now < predecessor_heard_ + options_.period * options_.miss_limit) return;
  // K periods of silence: confirm with direct probes for one more period (M10 guard).
  predecessor_confirm_ = Confirm{predecessor_, prng_.Next(), 0, now, now, false};
  RunConfirm(now, *predecessor_confirm_, out);
}

void MembershipCore::Declare(Instant now, Declaration d, Outputs& out) {
  // A repeated declaration (the first was lost) is sent again but counted once.
  if (declared_.insert(d).second) {
    ++metrics_.declarations_sent;
    out.push_back(
        MembershipEvent{MembershipEvent::Kind::kFailureDeclared, d.subject, map_.version});
  }
  seen_.insert(d);
  if (role_ == Role::kSupervisor) {
    ApplyDeclaration(now, d, out);
    return;
  }
  if (supervisor_ != kNoNode && supervisor_ != d.subject) Send(supervisor_, DeclareMsg{d}, out);
  const NodeId successor = Successor();
  if (successor != kNoNode) Send(successor, RingMsg{{d}}, out);
}

void MembershipCore::ApplyDeclaration(Instant now, const Declaration& d, Outputs& out) {
  if (d.subject == self()) return;  // we are evidently alive
  auto it = map_.members.find(d.subject);
  if (it == map_.members.end() || it->second.state != MemberState::kUp ||
      it->second.incarnation != d.incarnation) {
    return;
  }
  it->second.state = MemberState::kFailed;
  ++metrics_.failures_declared;
  Publish(now, out);
}

void MembershipCore::Leave(Instant now, Outputs& out) {
  if (role_ == Role::kLeft || role_ == Role::kLeaving) return;
  if (role_ == Role::kSupervisor) {
    (void)now;
    // Publish a last map without ourselves; the next node by priority takes over on it.
    map_.members[self()].state = MemberState::kLeft;
    map_.version = std::max(map_.version, max_version_) + 1;
    SendAll(MapMsg{map_}, out);
    role_ = Role::kLeft;
    next_heartbeat_ = next_notify_ = next_join_ = publish_at_ = next_usage_ = Instant::Max();
    out.push_back(MembershipEvent{MembershipEvent::Kind::kLeft, self(), map_.version});
    return;
  }
  if (role_ == Role::kListening || !map_.IsUp(self())) {
    role_ = Role::kLeft;
    out.push_back(MembershipEvent{MembershipEvent::Kind::kLeft, self(), map_.version});
    return;
  }
  role_ = Role::kLeaving;
  Send(supervisor_, LeaveMsg{options_.incarnation}, out);
  next_join_ = now + options_.period;
}

// ---- sending ----

void MembershipCore::Send(NodeId to, const Message& m, Outputs& out) {
  if (to == kNoNode || to == self()) return;
  Bytes b = Encode(m);
  ++metrics_.messages_sent;
  metrics_.bytes_sent += b.size();
  // In place: moving a temporary variant trips GCC 12's -Wmaybe-uninitialized at -O2.
  out.emplace_back(std::in_place_type<SendTo>, SendTo{to, std::move(b)});
}

void MembershipCore::SendAll(const Message& m, Outputs& out) {
  Bytes b = Encode(m);
  ++metrics_.messages_sent;
  metrics_.bytes_sent += b.size();
  out.emplace_back(std::in_place_type<Broadcast>, Broadcast{std::move(b)});
}

}  // namespace cohort::membership
