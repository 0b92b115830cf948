// GroupsCore, the node side: local clients' requests, votes, and the delivery of each
// group's committed changes in version order.
#include "groups/core.h"

namespace cohort::groups {

// ---- local clients ----

RequestId GroupsCore::Submit(Instant now, uint32_t local, RequestMsg msg, Outputs& out) {
  msg.request = RequestId{options_.self, options_.incarnation, next_seq_++};
  pending_[msg.request] = Pending{local, msg, now + options_.retry};
  if (coordinator_ != kNoNode) Send(coordinator_, msg, out);
  return msg.request;
}

RequestMsg GroupsCore::NewRequest(const std::string& group, ChangeKind kind, uint32_t local) const {
  RequestMsg m;
  m.group = group;
  m.kind = kind;
  m.member = MemberId{options_.self, options_.incarnation, local};
  return m;
}

void GroupsCore::Refuse(uint32_t local, const std::string& group, AbortReason reason,
                        Outputs& out) {
  out.push_back(Outcome{local, group, {}, RecentRequest{{}, 0, reason}});
}

RequestId GroupsCore::Join(Instant now, uint32_t local, const std::string& group, Role role,
                           bool default_approve, const std::vector<std::string>& depends,
                           Outputs& out) {
  bool valid = local != 0 && ValidName(group) && depends.size() <= kMaxDepends;
  for (const std::string& d : depends) valid = valid && ValidName(d) && d != group;
  if (!valid) {
    Refuse(local, group, AbortReason::kInvalid, out);
    return {};
  }
  Followed& f = followed_[group];
  if (f.members.count(local)) {
    Refuse(local, group, AbortReason::kAlreadyMember, out);
    return {};
  }
  RequestMsg m = NewRequest(group, ChangeKind::kJoin, local);
  m.role = role;
  m.default_approve = default_approve;
  m.depends = depends;
  const RequestId id = Submit(now, local, std::move(m), out);
  f.members[local] = LocalMember{role, id};
  Flush(now, out);
  return id;
}

RequestId GroupsCore::Leave(Instant now, uint32_t local, const std::string& group, Outputs& out) {
  auto f = followed_.find(group);
  if (f == followed_.end() || !f->second.members.count(local) ||
      f->second.members.at(local).since == 0) {
    Refuse(local, group, AbortReason::kNotMember, out);
    return {};
  }
  const RequestId id = Submit(now, local, NewRequest(group, ChangeKind::kLeave, local), out);
  Flush(now, out);
  return id;
}

RequestId GroupsCore::Propose(Instant now, uint32_t local, const std::string& group, Bytes value,
                              uint8_t phases, Outputs& out) {
  if (local == 0 || phases < 1 || phases > kMaxPhases || value.size() > kMaxStateBytes) {
    Refuse(local, group, AbortReason::kInvalid, out);
    return {};
  }
  auto f = followed_.find(group);
  const LocalMember* me = nullptr;
  if (f != followed_.end() && f->second.members.count(local)) me = &f->second.members.at(local);
  if (me == nullptr || me->since == 0 || me->role != Role::kProvider) {
    Refuse(local, group, AbortReason::kNotProvider, out);
    return {};
  }
  RequestMsg m = NewRequest(group, ChangeKind::kState, local);
  m.value = std::move(value);
  m.phases = phases;
  const RequestId id = Submit(now, local, std::move(m), out);
  Flush(now, out);
  return id;
}

void GroupsCore::Vote(Instant now, uint32_t local, const std::string& group, RequestId request,
                      uint8_t phase, bool approve, Outputs& out) {
  // To the coordinator that asked, which may not be the one this node's view names yet.
  auto asker = askers_.find({group, request});
  const NodeId to = asker != askers_.end() ? asker->second : coordinator_;
  Send(to,
       VoteReplyMsg{group, request, phase, MemberId{options_.self, options_.incarnation, local},
                    approve ? Vote::kApprove : Vote::kReject},
       out);
  Flush(now, out);
}

void GroupsCore::ProcessDied(Instant now, uint32_t local, Outputs& out) {
  for (auto& [group, f] : followed_) {
    auto m = f.members.find(local);
    if (m == f.members.end()) continue;
    const bool joined = m->second.joined_at != 0;
    const RequestId join = m->second.join;
    f.members.erase(m);
    // A join still in flight is failed when it is known to have committed (JoinCommitted).
    if (auto p = pending_.find(join); !joined && p != pending_.end()) p->second.orphan = true;
    if (!joined) {
      TryStart(now, group, f, out);
      continue;
    }
    Submit(now, 0, NewRequest(group, ChangeKind::kProcessDied, local), out);
  }
  Flush(now, out);
}

// ---- from the coordinator ----

// Asks the providers named; one whose process is gone answers "absent" (the default vote)
// at once rather than after the vote timeout. A provider whose join this node has not
// delivered yet (a commit still on its way) is asked all the same: the group counts it.
void GroupsCore::OnVoteRequest(NodeId from, const VoteRequestMsg& m, Outputs& out) {
  constexpr size_t kAskersKept = 4096;  // votes outstanding at once, at most
  auto [asker, fresh] = askers_.insert_or_assign({m.group, m.request}, from);
  if (fresh) asked_order_.push_back(asker->first);
  while (asked_order_.size() > kAskersKept) {  // the oldest asks go first
    askers_.erase(asked_order_.front());
    asked_order_.pop_front();
  }
  auto f = followed_.find(m.group);
  for (uint32_t local : m.voters) {
    const LocalMember* member = nullptr;
    if (f != followed_.end() && f->second.members.count(local)) {
      member = &f->second.members.at(local);
    }
    if (member != nullptr && member->role == Role::kProvider) {
      out.push_back(VoteAsk{local, m.group, m.request, m.version, m.phase, m.value});
    } else {
      Send(from,
           VoteReplyMsg{m.group, m.request, m.phase,
                        MemberId{options_.self, options_.incarnation, local}, Vote::kAbsent},
           out);
    }
  }
}

void GroupsCore::OnVersion(Instant now, const VersionMsg& m) {
  auto it = followed_.find(m.group);
  if (it == followed_.end() || m.version <= it->second.known) return;
  Followed& f = it->second;
  f.known = m.version;
  if (f.known > f.delivered && f.gap_since == Instant::Max()) f.gap_since = now - options_.retry;
}

void GroupsCore::OnOutcome(Instant now, const OutcomeMsg& m, Outputs& out) {
  auto p = pending_.find(m.outcome.request);
  if (p == pending_.end()) return;
  const Pending pending = std::move(p->second);
  pending_.erase(p);
  Followed& f = followed_[m.group];
  if (!m.outcome.reason) {
    // Committed, but its commit did not reach us: catch up to it.
    f.known = std::max(f.known, m.outcome.version);
    if (pending.msg.kind == ChangeKind::kJoin) {
      JoinCommitted(now, m.group, f, pending, m.outcome.version, out);
    }
    if (f.gap_since == Instant::Max()) f.gap_since = now - options_.retry;
  } else if (pending.msg.kind == ChangeKind::kJoin) {
    f.members.erase(pending.local);
  } else if ((m.outcome.reason == AbortReason::kNotMember ||
              m.outcome.reason == AbortReason::kNotProvider) &&
             f.gap_since == Instant::Max()) {
    f.gap_since = now - options_.retry;  // perhaps failed out unheard: ask
  }
  if (pending.local != 0) {
    out.push_back(Outcome{pending.local, m.group, m.outcome.request, m.outcome});
  }
  TryStart(now, m.group, f, out);
  MaybeForget(m.group);
}

// A group is delivered from a baseline: the earliest join of this node's members (each must
// hear its own join and everything after), or the first change heard when the node follows
// it for dependent groups only. Until every member's join version is known, commits wait.
void GroupsCore::TryStart(Instant now, const std::string& group, Followed& f, Outputs& out) {
  if (f.started) return;
  uint64_t first = UINT64_MAX;
  for (const auto& [local, member] : f.members) {
    if (member.joined_at == 0) return;
    first = std::min(first, member.joined_at);
  }
  if (first == UINT64_MAX) {  // no member of its own
    if (f.early.empty()) return;
    first = f.early.begin()->first;
  }
  f.started = true;
  f.delivered = first - 1;
  f.early.erase(f.early.begin(), f.early.lower_bound(first));
  Drain(now, group, f, out);
}

void GroupsCore::OnCommit(Instant now, const CommitMsg& m, Outputs& out) {
  Followed& f = followed_[m.group];
  // Which local groups depend on this one only grows: a member failed out of a dependent
  // group (unknown here yet) still hears this group's changes until it is told it is out.
  f.related.insert(m.related.begin(), m.related.end());
  const Change& c = m.change;
  f.known = std::max(f.known, c.version);
  if (c.version == 0) return;
  if (auto p = pending_.find(c.request); p != pending_.end()) {
    const Pending pending = std::move(p->second);
    pending_.erase(p);
    if (pending.local != 0) {
      out.push_back(
          Outcome{pending.local, m.group, c.request, RecentRequest{c.request, c.version, {}}});
    }
    if (c.kind == ChangeKind::kJoin) JoinCommitted(now, m.group, f, pending, c.version, out);
  }
  if (f.started && c.version <= f.delivered) return;
  constexpr size_t kMostEarly = 4096;  // past a gap; more are asked for again after it
  if (f.early.size() < kMostEarly || c.version == f.delivered + 1) f.early.emplace(c.version, c);
  if (f.started) {
    Drain(now, m.group, f, out);
  } else {
    TryStart(now, m.group, f, out);
  }
  MaybeForget(m.group);
}

// A group this node no longer has members in, nor members of groups depending on it, nor
// requests about, is no longer followed.
void GroupsCore::MaybeForget(const std::string& group) {
  auto it = followed_.find(group);
  if (it == followed_.end() || !it->second.members.empty()) return;
  for (const std::string& dependent : it->second.related) {
    auto d = followed_.find(dependent);
    if (d != followed_.end() && !d->second.members.empty()) return;
  }
  for (const auto& [id, p] : pending_) {
    if (p.msg.group == group) return;
  }
  followed_.erase(it);
}

// A join of this node's made it, as `version`: the member hears from then on, or — if its
// process died meanwhile — is failed out at once.
void GroupsCore::JoinCommitted(Instant now, const std::string& group, Followed& f,
                               const Pending& join, uint64_t version, Outputs& out) {
  if (join.orphan) {
    Submit(now, 0, NewRequest(group, ChangeKind::kProcessDied, join.msg.member.local), out);
    return;
  }
  auto it = f.members.find(join.msg.member.local);
  if (it == f.members.end() || it->second.join != join.msg.request) return;  // lost since
  if (it->second.joined_at == 0) it->second.joined_at = version;
  if (it->second.since == 0 && f.started && version <= f.delivered) {
    // A snapshot past its join did not list it: it was failed out since.
    out.push_back(Lost{it->first, group, ChangeKind::kProcessDied});
    f.members.erase(it);
  }
}

void GroupsCore::OnSnapshot(Instant now, const SnapshotMsg& m, Outputs& out) {
  Followed& f = followed_[m.group];
  f.related.insert(m.related.begin(), m.related.end());
  if (f.started && m.version <= f.delivered) return;
  // Before its members' baseline is known a snapshot says nothing of them: it may be one
  // asked for before they were last failed out, still on its way. TryStart starts them.
  if (!f.started && !f.members.empty()) return;
  f.started = true;
  f.delivered = m.version;
  f.known = std::max(f.known, m.version);
  f.early.erase(f.early.begin(), f.early.upper_bound(m.version));
  for (auto it = f.members.begin(); it != f.members.end();) {
    const MemberId id{options_.self, options_.incarnation, it->first};
    bool listed = false;
    for (const Member& x : m.members) listed = listed || x.id == id;
    if (listed && it->second.since == 0) {
      it->second.since = m.version;
      if (it->second.joined_at == 0) it->second.joined_at = m.version;
    }
    const bool was_in =
        it->second.since != 0 || (it->second.joined_at != 0 && it->second.joined_at <= m.version);
    if (!listed && was_in) {
      // Removed in the changes skipped, without having left.
      out.push_back(Lost{it->first, m.group, ChangeKind::kProcessDied});
      it = f.members.erase(it);
      continue;
    }
    ++it;
  }
  const Resync resync{0, m.group, "", m.version, m.token, m.state, m.members};
  for (const auto& [local, member] : f.members) {
    if (member.since == 0) continue;
    Resync r = resync;
    r.local = local;
    out.push_back(std::move(r));
  }
  NotifyRelated(m.group, f, resync, out);
  Drain(now, m.group, f, out);
  MaybeForget(m.group);
}

void GroupsCore::Drain(Instant now, const std::string& group, Followed& f, Outputs& out) {
  while (!f.early.empty() && f.early.begin()->first == f.delivered + 1) {
    const Change c = std::move(f.early.begin()->second);
    f.early.erase(f.early.begin());
    Deliver(group, f, c, out);
  }
  const bool gap = !f.early.empty() || f.known > f.delivered;
  if (!gap) {
    f.gap_since = Instant::Max();
  } else if (f.gap_since == Instant::Max()) {
    f.gap_since = now;
  }
}

void GroupsCore::Deliver(const std::string& group, Followed& f, const Change& c, Outputs& out) {
  f.delivered = c.version;
  const bool mine = c.member.node == options_.self && c.member.incarnation == options_.incarnation;
  if (c.kind == ChangeKind::kJoin && mine) {
    auto m = f.members.find(c.member.local);
    if (m != f.members.end() && m->second.since == 0) {
      m->second.since = c.version;
      if (m->second.joined_at == 0) m->second.joined_at = c.version;
    }
  }
  for (const auto& [local, member] : f.members) {
    if (member.since != 0) out.push_back(Notify{local, group, "", c});
  }
  NotifyRelated(group, f, Notify{0, group, "", c}, out);
  if (!mine) return;
  // The change removes members of this node: a leave ends quietly; a failure of a process
  // that is in fact alive, or of this node while it lives, is a lost membership.
  for (auto it = f.members.begin(); it != f.members.end();) {
    const bool all = c.kind == ChangeKind::kNodeDied;
    const bool this_one = (c.kind == ChangeKind::kLeave || c.kind == ChangeKind::kProcessDied) &&
                          it->first == c.member.local;
    if (!(all || this_one) || it->second.since == 0 || it->second.since > c.version) {
      ++it;
      continue;
    }
    if (c.kind != ChangeKind::kLeave) out.push_back(Lost{it->first, group, c.kind});
    it = f.members.erase(it);
  }
}

// Hands `what` (a Notify or Resync of `group`) to the local members of the groups that depend
// on it.
void GroupsCore::NotifyRelated(const std::string& group, const Followed& f, const Output& what,
                               Outputs& out) {
  for (const std::string& dependent : f.related) {
    auto d = followed_.find(dependent);
    if (d == followed_.end()) continue;
    for (const auto& [local, member] : d->second.members) {
      if (member.since == 0) continue;
      Output copy = what;
      if (auto* n = std::get_if<Notify>(&copy)) {
        n->local = local;
        n->related = dependent;
      } else if (auto* r = std::get_if<Resync>(&copy)) {
        r->local = local;
        r->related = dependent;
      }
      out.push_back(std::move(copy));
    }
  }
  (void)group;
}

void GroupsCore::NodeTick(Instant now, Outputs& out) {
  for (auto& [id, p] : pending_) {
    if (p.next_send > now) continue;
    p.next_send = now + options_.retry;
    if (coordinator_ != kNoNode) Send(coordinator_, p.msg, out);
  }
  // A node failed out while it was cut off is not told by a commit (it was lost) nor by
  // the coordinator's announcements (it is no longer among the group's nodes): it asks.
  const bool poll = poll_at_ <= now;
  if (poll) poll_at_ = now + options_.check;
  for (auto& [group, f] : followed_) {
    const bool gap = f.gap_since != Instant::Max() && now - f.gap_since >= options_.retry;
    if (!gap && !(poll && f.started)) continue;
    if (gap) {
      // Asked once when nothing shows a gap here (an outcome hinted at one); again each
      // retry while commits wait past one or a newer version is known.
      const bool evident = !f.early.empty() || f.known > f.delivered;
      f.gap_since = evident ? now : Instant::Max();
    }
    if (coordinator_ != kNoNode) Send(coordinator_, CatchUpMsg{group, f.delivered + 1}, out);
  }
}

Instant GroupsCore::NodeDeadline() const {
  Instant next = followed_.empty() ? Instant::Max() : poll_at_;
  for (const auto& [id, p] : pending_) next = std::min(next, p.next_send);
  for (const auto& [group, f] : followed_) {
    if (f.gap_since != Instant::Max()) next = std::min(next, f.gap_since + options_.retry);
  }
  return next;
}

}  // namespace cohort::groups
