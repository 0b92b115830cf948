// GroupsCore: the view, messages in, time, and what it knows. The node side is node.cc; the
// coordinator's requests coordinator.cc, its writes and catch-ups commit.cc.
#include "groups/core.h"

namespace cohort::groups {

GroupsCore::GroupsCore(GroupsOptions options) : options_(std::move(options)) {}

void GroupsCore::Send(NodeId node, const Message& m, Outputs& out) {
  if (node == kNoNode) return;
  if (node == options_.self) {
    // The coordinator's own node: handled once the step that sent it is done (Flush), so
    // no handler runs inside another.
    inbox_.push_back(m);
    return;
  }
  out.push_back(SendTo{node, Encode(m)});
}

void GroupsCore::Flush(Instant now, Outputs& out) {
  for (size_t handled = 0; !inbox_.empty() && handled < 100000; ++handled) {
    Message m = std::move(inbox_.front());
    inbox_.pop_front();
    Dispatch(now, options_.self, m, out);
  }
}

void GroupsCore::SetView(Instant now, NodeId coordinator, const NodeView& up, Outputs& out) {
  const bool was = coordinating_;
  const NodeId before = coordinator_;
  if (coordinator != before) previous_coordinator_ = before;
  coordinator_ = coordinator;
  up_ = up;
  if (coordinator == options_.self && !was) {
    StartCoordinating(out);
  } else if (coordinator != options_.self && was) {
    coordinating_ = false;
    reading_.reset();
    leads_.clear();
    before_read_.clear();
  } else if (coordinating_ && !reading_) {
    ReadAll(out);  // the view changed: is every record still as this node left it?
  }
  if (coordinating_ && read_once_) {
    VotersWentDown(now, out);
    FailDeadNodes(now, out);
  }
  if (coordinator != before) {
    for (auto& [id, p] : pending_) p.next_send = now;  // to the new coordinator at once
    for (auto& [group, f] : followed_) {
      if (f.gap_since != Instant::Max()) f.gap_since = now - options_.retry;
    }
    NodeTick(now, out);
  }
  Flush(now, out);
}

// Providers whose node went down mid-vote take the default vote at once.
void GroupsCore::VotersWentDown(Instant now, Outputs& out) {
  for (auto& [group, g] : leads_) {
    if (!g.now || !g.now->voting) continue;
    const size_t asked = g.now->voters.size();
    for (auto it = g.now->voters.begin(); it != g.now->voters.end();) {
      it = Up(*it) ? std::next(it) : g.now->voters.erase(it);
    }
    if (g.now->voters.size() == asked) continue;
    g.now->defaulted = true;
    if (g.now->voters.empty() || !Basis(g).default_approve) EndRound(now, group, g, false, out);
  }
}

// The members of daemons no longer up fail out: one node-died change per daemon and group.
void GroupsCore::FailDeadNodes(Instant now, Outputs& out) {
  if (up_.empty()) return;  // no view yet
  for (auto& [group, g] : leads_) {
    std::set<std::pair<NodeId, Incarnation>> dead;
    for (const Member& m : g.record.members) {
      if (!Up(m.id)) dead.insert({m.id.node, m.id.incarnation});
    }
    for (const auto& [from, q] : g.queue) {
      if (q.kind == ChangeKind::kNodeDied) dead.erase({q.member.node, q.member.incarnation});
    }
    for (const std::optional<Transition>* t : {&g.now, &g.deciding}) {
      if (*t && (*t)->request.kind == ChangeKind::kNodeDied) {
        dead.erase({(*t)->request.member.node, (*t)->request.member.incarnation});
      }
    }
    for (const auto& [node, incarnation] : dead) {
      RequestMsg m;
      m.group = group;
      m.kind = ChangeKind::kNodeDied;
      m.member = MemberId{node, incarnation, 0};
      m.request = RequestId{options_.self, options_.incarnation, next_seq_++};
      g.queued.insert(m.request);
      g.queue.emplace_back(options_.self, std::move(m));
    }
    Advance(now, group, g, out);
  }
}

void GroupsCore::OnMessage(Instant now, NodeId from, ByteView bytes, Outputs& out) {
  std::optional<Message> m = Decode(bytes);
  if (!m || from == options_.self) {
    ++malformed_;
    return;
  }
  Dispatch(now, from, *m, out);
  Flush(now, out);
}

void GroupsCore::Dispatch(Instant now, NodeId from, const Message& m, Outputs& out) {
  if (auto* r = std::get_if<RequestMsg>(&m)) {
    if (coordinating_) OnRequest(now, from, *r, out);
  } else if (auto* v = std::get_if<VoteReplyMsg>(&m)) {
    if (coordinating_ && v->member.node == from) OnVoteReply(now, *v, out);
  } else if (auto* c = std::get_if<CatchUpMsg>(&m)) {
    if (coordinating_ && up_.count(from)) OnCatchUp(from, *c, out);  // members of the cluster
  } else if (auto* q = std::get_if<VoteRequestMsg>(&m)) {
    OnVoteRequest(from, *q, out);  // from any coordinator: a vote decides nothing by itself
  } else if (from != coordinator_ && from != previous_coordinator_) {
    // What tells of decisions is taken from the coordinator in this node's view, or the one
    // before it (its last commits may still be on their way); another that believes it
    // coordinates is heard of through the registry instead (catch-up).
    ++refused_;
  } else if (auto* cm = std::get_if<CommitMsg>(&m)) {
    OnCommit(now, *cm, out);
  } else if (auto* o = std::get_if<OutcomeMsg>(&m)) {
    OnOutcome(now, *o, out);
  } else if (auto* s = std::get_if<SnapshotMsg>(&m)) {
    OnSnapshot(now, *s, out);
  } else if (auto* version = std::get_if<VersionMsg>(&m)) {
    OnVersion(now, *version);
  }
}

void GroupsCore::Tick(Instant now, Outputs& out) {
  NodeTick(now, out);
  CoordinatorTick(now, out);
  Flush(now, out);
}

void GroupsCore::CoordinatorTick(Instant now, Outputs& out) {
  if (!coordinating_) return;
  if (!reading_ && read_retry_at_ <= now) ReadAll(out);
  if (check_at_ <= now) {
    check_at_ = now + options_.check;
    if (!reading_) ReadAll(out);
  }
  for (auto& [group, g] : leads_) {
    if (g.write && !g.write_sent && g.retry_at <= now) SendWrite(g, out);
    if (g.now && g.now->voting && g.now->deadline <= now) EndRound(now, group, g, true, out);
  }
}

Instant GroupsCore::NextDeadline() const {
  Instant next = NodeDeadline();
  if (!coordinating_) return next;
  next = std::min(next, std::min(read_retry_at_, check_at_));
  for (const auto& [group, g] : leads_) {
    if (g.write && !g.write_sent) next = std::min(next, g.retry_at);
    if (g.now && g.now->voting) next = std::min(next, g.now->deadline);
  }
  return next;
}

std::map<std::string, uint64_t> GroupsCore::Delivered() const {
  std::map<std::string, uint64_t> d;
  for (const auto& [group, f] : followed_) d[group] = f.delivered;
  return d;
}

std::vector<std::pair<std::string, GroupRecord>> GroupsCore::Led() const {
  std::vector<std::pair<std::string, GroupRecord>> led;
  for (const auto& [group, g] : leads_) {
    if (g.revision != 0) led.emplace_back(group, g.record);
  }
  return led;
}

}  // namespace cohort::groups
