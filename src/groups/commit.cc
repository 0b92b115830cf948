// GroupsCore, the coordinator's writes: what a record write's answer means — a decision
// made (commit it to every node concerned), a takeover done, or the record lost to another
// coordinator — and the catch-up of nodes that missed commits.
#include <algorithm>

#include "groups/core.h"

namespace cohort::groups {

void GroupsCore::OnWritten(Instant now, const std::string& group, uint64_t ticket,
                           const WriteResult& result, Outputs& out) {
  if (!coordinating_) return;
  auto it = leads_.find(group);
  if (it == leads_.end() || !it->second.write || it->second.write->ticket != ticket) return;
  Lead& g = it->second;
  g.write_sent = false;
  switch (result.status) {
    case WriteStatus::kWritten:
      Written(group, g, result.revision, out);
      break;
    case WriteStatus::kConflict:
      Conflicted(now, group, g, result.current, out);
      break;
    case WriteStatus::kUnavailable:
      g.retry_at = now + options_.retry;  // the same write again: its expected revision
      break;                              // makes it safe to repeat
  }
  Advance(now, group, g, out);
  Flush(now, out);
}

void GroupsCore::Written(const std::string& group, Lead& g, int64_t revision, Outputs& out) {
  const GroupRecord before = std::move(g.record);
  g.record = std::move(g.writing);
  g.revision = revision;
  g.write.reset();
  if (!g.owned) {  // the takeover's write: nodes that missed commits learn of them now
    g.owned = true;
    Announce(group, g, out);
    return;
  }
  if (!g.deciding) return;
  const Transition t = std::move(*g.deciding);
  g.deciding.reset();
  if (!t.change) {
    Send(t.from, OutcomeMsg{group, RecentRequest{t.request.request, g.record.version, t.reason}},
         out);
    return;
  }
  Change c = *t.change;
  c.version = g.record.version;
  c.token = revision;
  if (!g.changes.empty() && g.changes.back().version + 1 != c.version) g.changes.clear();
  g.changes.push_back(c);
  while (g.changes.size() > options_.changes_kept) g.changes.pop_front();
  // Everyone concerned: members before and after (a removed member's node hears of it),
  // the requester, and the members of the groups that depend on this one.
  std::map<NodeId, std::vector<std::string>> audience = Audience(group, g);
  for (const Member& m : before.members) audience.try_emplace(m.id.node);
  audience.try_emplace(t.from);
  if (c.kind == ChangeKind::kNodeDied) audience.try_emplace(c.member.node);
  for (auto& [node, related] : audience) Send(node, CommitMsg{group, c, std::move(related)}, out);
}

// The record is not what this coordinator last wrote or read: another coordinator wrote it
// (or this one's earlier write landed and its answer was lost).
void GroupsCore::Conflicted(Instant now, const std::string& group, Lead& g,
                            const std::optional<StoredRecord>& current, Outputs& out) {
  if (current && current->record == g.write->record) {
    // Ours after all: the same bytes name this coordinator and its request.
    Written(group, g, current->revision, out);
    return;
  }
  std::optional<GroupRecord> r;
  if (current) r = DecodeRecord(current->record);
  Requeue(g);
  g.write.reset();
  if (!r) {
    // Unreadable, or deleted after it existed (recreating it would start its versions
    // again): nobody can run this group until its record is repaired.
    ++malformed_;
    g.owned = false;
    g.broken = true;
    return;
  }
  // Another coordinator decided meanwhile: what we were deciding is dropped unannounced (its
  // requester sends it again, and it may have been decided there), and we take over anew —
  // after a retry period, so two nodes that both believe they coordinate (views differ for
  // a detection time) do not take the record from each other at the registry's pace.
  g.record = std::move(*r);
  g.revision = current->revision;
  g.changes.clear();
  TakeOver(group, g, out, now + options_.retry);
}

// What was being decided goes back to the head of the queue, undecided, in its order.
void GroupsCore::Requeue(Lead& g) {
  for (std::optional<Transition>* t : {&g.now, &g.deciding}) {
    if (!*t) continue;
    g.queued.insert((*t)->request.request);
    g.queue.emplace_front((*t)->from, std::move((*t)->request));
    t->reset();
  }
}

void GroupsCore::Announce(const std::string& group, const Lead& g, Outputs& out) {
  for (const auto& [node, related] : Audience(group, g)) {
    Send(node, VersionMsg{group, g.record.version}, out);
  }
}

std::vector<std::string> GroupsCore::RelatedOn(const std::string& group, NodeId node) const {
  std::vector<std::string> related;
  for (const auto& [name, h] : leads_) {
    if (std::find(h.record.depends.begin(), h.record.depends.end(), group) ==
        h.record.depends.end()) {
      continue;
    }
    for (const Member& m : h.record.members) {
      if (m.id.node == node) {
        related.push_back(name);
        break;
      }
    }
    if (related.size() == kMaxRelated) break;  // what a commit can name; see groups.md
  }
  return related;
}

std::map<NodeId, std::vector<std::string>> GroupsCore::Audience(const std::string& group,
                                                                const Lead& g) const {
  std::map<NodeId, std::vector<std::string>> audience;
  for (const Member& m : g.record.members) audience.try_emplace(m.id.node);
  for (const auto& [name, h] : leads_) {
    if (std::find(h.record.depends.begin(), h.record.depends.end(), group) ==
        h.record.depends.end()) {
      continue;
    }
    for (const Member& m : h.record.members) audience.try_emplace(m.id.node);
  }
  for (auto& [node, related] : audience) related = RelatedOn(group, node);
  return audience;
}

void GroupsCore::OnCatchUp(NodeId from, const CatchUpMsg& m, Outputs& out) {
  auto it = leads_.find(m.group);
  if (it == leads_.end() || !it->second.owned) return;
  const Lead& g = it->second;
  const std::vector<std::string> related = RelatedOn(m.group, from);
  // The changes kept run without a gap (they are forgotten when another coordinator wrote).
  if (!g.changes.empty() && g.changes.front().version <= m.from_version &&
      m.from_version <= g.changes.back().version) {
    constexpr uint64_t kMostPerAnswer = 64;  // the node asks again for the rest
    const size_t first = m.from_version - g.changes.front().version;
    for (size_t k = first; k < g.changes.size() && k < first + kMostPerAnswer; ++k) {
      Send(from, CommitMsg{m.group, g.changes[k], related}, out);
    }
    return;
  }
  if (g.record.version < m.from_version) return;  // nothing it lacks
  Send(
      from,
      SnapshotMsg{m.group, g.record.version, g.revision, g.record.state, g.record.members, related},
      out);
}

}  // namespace cohort::groups
