// GroupsCore, the coordinator side: each group's requests one at a time — votes, the
// record written by compare-and-swap, then the commit to every node concerned.
#include <algorithm>

#include "groups/core.h"

namespace cohort::groups {
namespace {

bool HasMember(const GroupRecord& r, const MemberId& id) {
  return std::any_of(r.members.begin(), r.members.end(),
                     [&](const Member& m) { return m.id == id; });
}

bool IsProvider(const GroupRecord& r, const MemberId& id) {
  return std::any_of(r.members.begin(), r.members.end(),
                     [&](const Member& m) { return m.id == id && m.role == Role::kProvider; });
}

// Members of `node`'s daemon of that incarnation (as a kNodeDied change names them).
bool HasNodeMembers(const GroupRecord& r, const MemberId& node) {
  return std::any_of(r.members.begin(), r.members.end(), [&](const Member& m) {
    return m.id.node == node.node && m.id.incarnation == node.incarnation;
  });
}

const RecentRequest* FindRecent(const GroupRecord& r, const RequestId& id) {
  for (const RecentRequest& q : r.recent) {
    if (q.request == id) return &q;
  }
  return nullptr;
}

// The record after `c` (not yet versioned in `c`).
void Apply(GroupRecord& r, const Change& c) {
  auto& m = r.members;
  switch (c.kind) {
    case ChangeKind::kJoin:
      m.push_back(Member{c.member, c.role});
      break;
    case ChangeKind::kLeave:
    case ChangeKind::kProcessDied:
      m.erase(std::remove_if(m.begin(), m.end(), [&](const Member& x) { return x.id == c.member; }),
              m.end());
      break;
    case ChangeKind::kNodeDied:
      m.erase(std::remove_if(m.begin(), m.end(),
                             [&](const Member& x) {
                               return x.id.node == c.member.node &&
                                      x.id.incarnation == c.member.incarnation;
                             }),
              m.end());
      break;
    case ChangeKind::kState:
      r.state = c.value;
      break;
  }
}

}  // namespace

bool GroupsCore::Up(const MemberId& m) const {
  auto it = up_.find(m.node);
  return it != up_.end() && it->second == m.incarnation;
}

void GroupsCore::StartCoordinating(Outputs& out) {
  coordinating_ = true;
  read_once_ = false;
  check_at_ = Instant::Max();
  leads_.clear();
  before_read_.clear();
  ReadAll(out);
}

void GroupsCore::ReadAll(Outputs& out) {
  reading_ = next_ticket_++;
  read_retry_at_ = Instant::Max();
  out.push_back(ReadRecords{*reading_});
}

// Every record, read when this node starts coordinating, on a change of the view and every
// check period: a record that is not as this coordinator left it was written by another
// (while this one was cut off from the registry, or lagged behind in its view), so it takes
// the group over again from what is stored.
void GroupsCore::OnRecords(Instant now, uint64_t ticket,
                           const std::optional<std::vector<StoredRecord>>& records, Outputs& out) {
  if (!coordinating_ || reading_ != ticket) return;
  reading_.reset();
  if (!records) {
    // Out of reach: the first read, and one a request waits on, are tried again soon; the
    // others at the next check.
    bool waited_on = !read_once_;
    for (const auto& [group, g] : leads_) waited_on = waited_on || g.await_read != 0;
    if (waited_on) read_retry_at_ = now + options_.retry;
    return;
  }
  for (const StoredRecord& s : *records) Reconcile(s, out);
  bool again = false;
  for (auto it = leads_.begin(); it != leads_.end();) {
    Lead& g = it->second;
    if (g.await_read != 0 && g.await_read <= ticket) {
      g.await_read = 0;  // the read shows the group if it exists; if not, say so (Begin)
      if (g.revision == 0 && !g.write) g.owned = true;
    }
    again = again || g.await_read != 0;
    Advance(now, it->first, g, out);
    const bool unknown = g.revision == 0 && !g.write && !g.now && g.queue.empty();
    it = unknown && g.await_read == 0 ? leads_.erase(it) : std::next(it);
  }
  if (again) ReadAll(out);
  if (!read_once_) {
    read_once_ = true;
    check_at_ = now + options_.check;
    std::vector<std::pair<NodeId, RequestMsg>> waiting;
    waiting.swap(before_read_);
    for (const auto& [from, m] : waiting) OnRequest(now, from, m, out);
  }
  FailDeadNodes(now, out);
  Flush(now, out);
}

void GroupsCore::Reconcile(const StoredRecord& s, Outputs& out) {
  std::optional<GroupRecord> r = DecodeRecord(s.record);
  if (!ValidName(s.group) || !r) {
    ++malformed_;  // a group no coordinator can run; left as it is
    return;
  }
  Lead& g = leads_[s.group];
  if (g.write_sent) return;  // the write's answer will tell
  // A key's revision only grows: an older one is a read that overtook this node's own write.
  if (s.revision < g.revision || (g.revision == s.revision && !g.broken)) return;
  g.broken = false;
  Requeue(g);  // decided elsewhere or not: it is judged again against what is stored
  g.record = std::move(*r);
  g.revision = s.revision;
  g.changes.clear();
  g.write.reset();
  TakeOver(s.group, g, out);
}

// Writes this node in as the group's owner: every write of a former coordinator, which
// expects an older revision, fails from then on.
void GroupsCore::TakeOver(const std::string& group, Lead& g, Outputs& out, Instant at) {
  g.owned = false;
  GroupRecord next = g.record;
  next.owner = options_.self;
  next.owner_incarnation = options_.incarnation;
  g.writing = next;
  g.write = WriteRecord{group, g.revision, EncodeRecord(next), 0};
  if (at == Instant()) {
    SendWrite(g, out);
  } else {
    g.write_sent = false;
    g.retry_at = at;
  }
}

void GroupsCore::SendWrite(Lead& g, Outputs& out) {
  g.write->ticket = next_ticket_++;
  g.write_sent = true;
  g.retry_at = Instant::Max();
  out.push_back(*g.write);
}

void GroupsCore::OnRequest(Instant now, NodeId from, const RequestMsg& m, Outputs& out) {
  // A node speaks for its own processes only, and only once the cluster lists it up.
  if (m.request.node != from || m.member.node != from ||
      m.member.incarnation != m.request.incarnation || m.kind == ChangeKind::kNodeDied ||
      !Up(MemberId{from, m.request.incarnation, 0})) {
    return;
  }
  constexpr size_t kMostWaiting = 4096;  // requests held per group (and before the first read)
  if (!read_once_) {
    const bool known = std::any_of(before_read_.begin(), before_read_.end(),
                                   [&](const auto& w) { return w.second.request == m.request; });
    if (!known && before_read_.size() < kMostWaiting) before_read_.emplace_back(from, m);
    return;
  }
  auto [it, created] = leads_.try_emplace(m.group);
  Lead& g = it->second;
  if (created && m.kind != ChangeKind::kJoin) {
    // Not known here: perhaps created after this node's last read (by a coordinator before
    // it). Read before answering.
    g.await_read = next_ticket_;
    if (!reading_) ReadAll(out);
  } else if (created) {
    g.owned = true;  // a new group: its first write creates it (or finds it there)
  }
  const auto runs = [&](const std::optional<Transition>& t) {
    return t && t->request.request == m.request;
  };
  if (runs(g.now) || runs(g.deciding) || g.queued.count(m.request) ||
      g.queued.size() >= kMostWaiting) {
    return;
  }
  g.queue.emplace_back(from, m);
  g.queued.insert(m.request);
  Advance(now, m.group, g, out);
}

// Decides what is ready and starts the next requests: one is voted on while the decision
// before it is written (a takeover's write holds everything back).
void GroupsCore::Advance(Instant now, const std::string& group, Lead& g, Outputs& out) {
  if (!g.owned || g.broken) return;
  // Each turn records (then a write is in flight) or takes a request off the queue.
  while (true) {
    if (g.now && !g.now->voting && !g.write) {
      Record(group, g, out);
    } else if (g.await_read == 0 && !g.now && (!g.write || g.deciding) && !g.queue.empty()) {
      Begin(now, group, g, out);
    } else {
      return;
    }
  }
}

void GroupsCore::Begin(Instant now, const std::string& group, Lead& g, Outputs& out) {
  const std::pair<NodeId, RequestMsg> next = std::move(g.queue.front());
  g.queue.pop_front();
  g.queued.erase(next.second.request);
  const NodeId from = next.first;
  const RequestMsg& m = next.second;
  if (const RecentRequest* done = FindRecent(g.record, m.request)) {
    Send(from, OutcomeMsg{group, *done}, out);  // decided before: say so again
    return;
  }
  if (g.revision == 0 && !g.write && m.kind != ChangeKind::kJoin) {
    // A read after the request came shows no such group: an honest node asks only about
    // groups its member joined, which the registry holds from then on.
    Send(from, OutcomeMsg{group, {m.request, 0, AbortReason::kNoGroup}}, out);
    return;
  }
  if (m.kind == ChangeKind::kNodeDied && (Up(m.member) || !HasNodeMembers(Basis(g), m.member))) {
    return;  // back up (queued during a partition), or failed out already
  }
  g.now = Judge(group, Basis(g), from, m);
  if (g.now->voting) AskVotes(now, group, g, out);  // else recorded as it is (Advance)
}

// What a request becomes against the group as it stands: a change to vote on or record, or
// an abort to record.
GroupsCore::Transition GroupsCore::Judge(const std::string& group, const GroupRecord& r,
                                         NodeId from, const RequestMsg& m) const {
  Transition t;
  t.request = m;
  t.from = from;
  Change c;
  c.kind = m.kind;
  c.member = m.member;
  c.role = m.role;
  c.request = m.request;
  switch (m.kind) {
    case ChangeKind::kJoin:
      if (HasMember(r, m.member)) {
        t.reason = AbortReason::kAlreadyMember;
      } else if (r.members.size() >= kMaxMembers ||
                 std::find(m.depends.begin(), m.depends.end(), group) != m.depends.end()) {
        t.reason = AbortReason::kInvalid;
      } else {
        t.change = c;
      }
      break;
    case ChangeKind::kLeave:
    case ChangeKind::kProcessDied:
      if (HasMember(r, m.member)) {
        t.change = c;
      } else {
        t.reason = AbortReason::kNotMember;
      }
      break;
    case ChangeKind::kNodeDied:
      t.change = c;
      break;
    case ChangeKind::kState:
      if (IsProvider(r, m.member)) {
        c.value = m.value;
        t.change = c;
        t.voting = true;
      } else {
        t.reason = AbortReason::kNotProvider;
      }
      break;
  }
  return t;
}

void GroupsCore::AskVotes(Instant now, const std::string& group, Lead& g, Outputs& out) {
  Transition& t = *g.now;
  t.voters.clear();
  t.defaulted = false;
  std::map<NodeId, std::vector<uint32_t>> nodes;
  const GroupRecord& r = Basis(g);
  for (const Member& m : r.members) {
    if (m.role != Role::kProvider) continue;
    if (!Up(m.id)) {
      t.defaulted = true;  // the dead take the default vote
      continue;
    }
    t.voters.insert(m.id);
    nodes[m.id.node].push_back(m.id.local);
  }
  t.deadline = now + options_.vote_timeout;
  for (auto& [n, locals] : nodes) {
    Send(n,
         VoteRequestMsg{group, t.request.request, r.version + 1, t.phase, t.request.value,
                        std::move(locals)},
         out);
  }
  if (t.voters.empty()) Tally(now, group, g, false, out);
}

void GroupsCore::OnVoteReply(Instant now, const VoteReplyMsg& m, Outputs& out) {
  auto it = leads_.find(m.group);
  if (it == leads_.end() || !it->second.now || !it->second.now->voting) return;
  Transition& t = *it->second.now;
  if (t.request.request != m.request || t.phase != m.phase || !t.voters.erase(m.member)) return;
  const bool reject =
      m.vote == Vote::kReject || (m.vote == Vote::kAbsent && !Basis(it->second).default_approve);
  if (reject) {
    t.reason = AbortReason::kRejected;
    t.change.reset();
  }
  if (reject || t.voters.empty()) EndRound(now, m.group, it->second, false, out);
}

// A round ended by a vote, a provider's node going down or the deadline: tallied, then
// whatever is ready recorded and the next request begun.
void GroupsCore::EndRound(Instant now, const std::string& group, Lead& g, bool timed_out,
                          Outputs& out) {
  Tally(now, group, g, timed_out, out);
  Advance(now, group, g, out);
}

// Decides a round once every provider voted, one voted no, or time ran out (the silent take
// the group's default vote). The outcome is recorded by Advance, once no write is in flight.
void GroupsCore::Tally(Instant now, const std::string& group, Lead& g, bool timed_out,
                       Outputs& out) {
  Transition& t = *g.now;
  if (timed_out && !t.voters.empty()) t.defaulted = true;
  if (t.defaulted && !Basis(g).default_approve) {
    t.reason = AbortReason::kRejected;
    t.change.reset();
  }
  t.voters.clear();
  t.deadline = Instant::Max();
  if (!t.reason && t.phase < t.request.phases) {
    ++t.phase;
    AskVotes(now, group, g, out);
    return;
  }
  t.voting = false;
}

// Writes the outcome of the current request into the record: the decision. No write is in
// flight.
void GroupsCore::Record(const std::string& group, Lead& g, Outputs& out) {
  g.deciding = std::move(g.now);
  g.now.reset();
  Transition& t = *g.deciding;
  GroupRecord next = g.record;
  if (g.revision == 0 && t.change) {  // the join that creates the group sets its options
    next.default_approve = t.request.default_approve;
    next.depends = t.request.depends;
  }
  next.owner = options_.self;
  next.owner_incarnation = options_.incarnation;
  RecentRequest done{t.request.request, next.version, t.reason};
  if (t.change) {
    Apply(next, *t.change);
    done.version = ++next.version;
  }
  // The coordinator's own failure notices have no requester to answer.
  if (t.request.kind != ChangeKind::kNodeDied) next.recent.push_back(done);
  if (next.recent.size() > kRecentRequests) {
    next.recent.erase(
        next.recent.begin(),
        next.recent.begin() + static_cast<long>(next.recent.size() - kRecentRequests));
  }
  g.writing = next;
  g.write = WriteRecord{group, g.revision, EncodeRecord(next), 0};
  SendWrite(g, out);
}

}  // namespace cohort::groups
