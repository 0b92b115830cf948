// GroupsSim's world: the network, the registry, the views the membership would give, faults,
// the clock, and the termination check. The clients and their checks are groups_sim.cc.
#include <algorithm>

#include "base/digest.h"
#include "sim/groups_sim.h"

namespace cohort::sim {

using groups::GroupRecord;
using groups::Outputs;
using groups::WriteResult;
using groups::WriteStatus;

// ---- the network ----

bool GroupsSim::Reaches(NodeId a, NodeId b) const {
  return nodes_.at(a).core != nullptr && nodes_.at(b).core != nullptr &&
         minority_.count(a) == minority_.count(b);
}

bool GroupsSim::ReachesRegistry(NodeId node) const {
  return registry_up_ && minority_.count(node) == 0;
}

void GroupsSim::Route(NodeId node, Outputs& out) {
  for (groups::Output& o : out) {
    if (auto* s = std::get_if<groups::SendTo>(&o)) {
      if (!nodes_.count(s->node) || !Reaches(node, s->node) || prng_.Chance(options_.loss)) {
        ++dropped_;
        continue;
      }
      const NodeId to = s->node;
      At(to, Between(options_.latency_min, options_.latency_max),
         [this, node, to, bytes = std::move(s->bytes)](Node& n) {
           if (!Reaches(node, to)) {
             ++dropped_;
             return;
           }
           trace_ = Digest64(bytes, trace_ ^ (static_cast<uint64_t>(now_.nanos()) * 31 + to));
           Outputs next;
           n.core->OnMessage(now_, node, bytes, next);
           Route(to, next);
         });
    } else if (auto* w = std::get_if<groups::WriteRecord>(&o)) {
      Write(node, *w);
    } else if (auto* r = std::get_if<groups::ReadRecords>(&o)) {
      Read(node, r->ticket);
    } else {
      ToClient(node, o);
    }
  }
  out.clear();
  ArmTimer(node);
}

void GroupsSim::ArmTimer(NodeId node) {
  Node& n = nodes_.at(node);
  if (n.core == nullptr) return;
  const Instant at = n.core->NextDeadline();
  if (at == Instant::Max()) return;
  events_.Timer(std::max(at, now_), node, ++n.timer_generation);
}

// ---- the registry ----

void GroupsSim::Write(NodeId node, const groups::WriteRecord& w) {
  const Duration there = Between(options_.registry_min, options_.registry_max);
  events_.Send(now_ + there, node, kNoNode, [this, node, w] {
    WriteResult result;
    if (ReachesRegistry(node)) {
      Stored& s = store_[w.group];
      if (s.revision == w.expect_revision) {
        std::optional<GroupRecord> after = groups::DecodeRecord(w.record);
        if (!after) {
          Violation("node " + std::to_string(node) + " wrote a record that does not decode");
          return;
        }
        std::optional<GroupRecord> before;
        if (s.revision != 0) before = groups::DecodeRecord(s.record);
        CheckWrite(w.group, before ? &*before : nullptr, *after, revision_ + 1);
        s = Stored{++revision_, w.record};
        result = WriteResult{WriteStatus::kWritten, s.revision, std::nullopt};
      } else {
        result.status = WriteStatus::kConflict;
        if (s.revision != 0) result.current = groups::StoredRecord{w.group, s.revision, s.record};
      }
      if (s.revision == 0) store_.erase(w.group);
      if (prng_.Chance(options_.loss)) result = WriteResult{};  // the answer lost
    }
    At(node, Between(options_.registry_min, options_.registry_max),
       [this, node, group = w.group, ticket = w.ticket, result](Node& n) {
         Outputs out;
         n.core->OnWritten(now_, group, ticket, result, out);
         Route(node, out);
       });
  });
}

void GroupsSim::Read(NodeId node, uint64_t ticket) {
  const Duration there = Between(options_.registry_min, options_.registry_max);
  events_.Send(now_ + there, node, kNoNode, [this, node, ticket] {
    std::optional<std::vector<groups::StoredRecord>> records;
    if (ReachesRegistry(node)) {
      records.emplace();
      for (const auto& [group, s] : store_) records->push_back({group, s.revision, s.record});
    }
    At(node, Between(options_.registry_min, options_.registry_max),
       [this, node, ticket, records](Node& n) {
         Outputs out;
         n.core->OnRecords(now_, ticket, records, out);
         Route(node, out);
       });
  });
}

void GroupsSim::CheckWrite(const std::string& group, const GroupRecord* before,
                           const GroupRecord& after, int64_t revision) {
  const uint64_t was = before ? before->version : 0;
  if (after.version == was + 1) {
    if (!OneChange(before ? *before : GroupRecord{}, after)) {
      Violation(group + ": the write of v" + std::to_string(after.version) + " is not one change");
    }
    history_[group][after.version] = {revision, after};
  } else if (after.version != was ||
             (before && (before->state != after.state || before->members != after.members))) {
    Violation(group + ": a write took v" + std::to_string(was) + " to v" +
              std::to_string(after.version) + " without one change");
  }
  for (const groups::RecentRequest& q : after.recent) {
    if (no_group_.count(q.request)) {
      Violation(group + ": a request answered \"no such group\" is recorded");
    }
    auto [it, fresh] = decided_.try_emplace(q.request, q);
    if (!fresh && !(it->second == q)) {
      Violation(group + ": a request recorded as decided twice, differently");
    }
  }
  trace_ = Digest64(groups::EncodeRecord(after), trace_ ^ static_cast<uint64_t>(revision));
}

// Some single change takes `before` to `after`: a new state with the same members, one
// member more, one fewer, or the members of one daemon fewer.
bool GroupsSim::OneChange(const GroupRecord& before, const GroupRecord& after) {
  const auto& b = before.members;
  const auto& a = after.members;
  if (before.state != after.state) return a == b;
  if (a.size() == b.size() + 1) {
    return std::equal(b.begin(), b.end(), a.begin()) && !Lists(before, a.back().id);
  }
  if (a.size() >= b.size() || b.empty()) return false;
  // Removed: all of one daemon's members, keeping the others in order.
  const groups::MemberId daemon = [&] {
    for (const groups::Member& m : b) {
      if (!Lists(after, m.id)) return m.id;
    }
    return groups::MemberId{};
  }();
  std::vector<groups::Member> kept;
  for (const groups::Member& m : b) {
    const bool of_daemon = m.id.node == daemon.node && m.id.incarnation == daemon.incarnation;
    if (!of_daemon || Lists(after, m.id)) kept.push_back(m);
  }
  const size_t gone = b.size() - a.size();
  return kept == a && (gone == 1 || std::none_of(a.begin(), a.end(), [&](const groups::Member& m) {
                         return m.id.node == daemon.node && m.id.incarnation == daemon.incarnation;
                       }));
}

// ---- views and faults ----

NodeId GroupsSim::coordinator() const {
  for (const auto& [id, n] : nodes_) {
    if (n.core != nullptr && minority_.count(id) == 0) return id;
  }
  return kNoNode;
}

void GroupsSim::GiveView(NodeId node) {
  groups::NodeView up;
  for (const auto& [id, n] : nodes_) {
    if (Reaches(node, id)) up[id] = n.incarnation;
  }
  const NodeId coordinator = up.empty() ? kNoNode : up.begin()->first;
  Outputs out;
  nodes_.at(node).core->SetView(now_, coordinator, up, out);
  Route(node, out);
}

// Every live node learns the change: after a detection delay when it is a fault.
void GroupsSim::ScheduleViews(bool fault) {
  for (const auto& [id, n] : nodes_) {
    if (n.core == nullptr) continue;
    const Duration delay = fault ? Between(options_.detect_min, options_.detect_max)
                                 : Between(Duration::Millis(1), Duration::Millis(20));
    At(id, delay, [this, node = id](Node&) { GiveView(node); });
  }
}

void GroupsSim::Crash(NodeId node) {
  Node& n = nodes_.at(node);
  n.core.reset();
  n.clients.clear();
  ++n.timer_generation;
  ScheduleViews(true);
}

void GroupsSim::Restart(NodeId node) {
  if (nodes_.at(node).core == nullptr) Start(node);
}

void GroupsSim::Partition(const std::set<NodeId>& minority) {
  minority_ = minority;
  ScheduleViews(true);
}

// ---- the clock ----

bool GroupsSim::RunUntilTrue(const std::function<bool()>& done, Duration limit, Duration step) {
  return events_.RunUntil(now_, done, limit, step, [&](const Events::Event& e) { Step(e); });
}

void GroupsSim::Step(const Events::Event& e) {
  using Kind = Events::Kind;
  if (e.kind == Kind::kMessage) {
    e.message();  // checks for itself whether its node still runs
    return;
  }
  Node& n = nodes_.at(e.to);
  if (e.kind == Kind::kStart) {
    if (n.core == nullptr) Start(e.to);
    return;
  }
  if (n.core == nullptr || e.generation != n.timer_generation) return;  // stale
  Outputs out;
  n.core->Tick(now_, out);
  Route(e.to, out);
}

std::set<groups::RequestId> GroupsSim::OpenRequests() const {
  std::set<groups::RequestId> open;
  for (const auto& [id, n] : nodes_) {
    for (const auto& [local, c] : n.clients) open.insert(c.open.begin(), c.open.end());
  }
  return open;
}

bool GroupsSim::StillOpen(const groups::RequestId& id) const {
  const Node& n = nodes_.at(id.node);
  if (n.core == nullptr || n.incarnation != id.incarnation) return false;
  for (const auto& [local, c] : n.clients) {
    if (c.open.count(id)) return true;
  }
  return false;
}

bool GroupsSim::Quiet(std::string* why) const {
  auto say = [&](const std::string& s) {
    if (why != nullptr) *why = s;
    return false;
  };
  for (const auto& [id, n] : nodes_) {
    if (n.core == nullptr) continue;
    for (const auto& [local, c] : n.clients) {
      const std::string who = "node " + std::to_string(id) + " client " + std::to_string(local);
      if (!c.open.empty())
        return say(who + " has " + std::to_string(c.open.size()) + " requests unanswered");
      for (const auto& [group, role] : c.wanted) {
        if (!c.joined.count(group)) return say(who + " is not in " + group);
        auto s = store_.find(group);
        if (s == store_.end()) return say(group + " has no record");
        const GroupRecord r = *groups::DecodeRecord(s->second.record);
        if (!Lists(r, groups::MemberId{id, n.incarnation, local})) {
          return say(who + " believes it is in " + group + " but the record does not list it");
        }
        auto h = c.heard.find({group, ""});
        if (h == c.heard.end() || h->second != r.version) {
          return say(who + " is behind in " + group);
        }
      }
    }
  }
  for (const auto& [group, s] : store_) {
    const GroupRecord r = *groups::DecodeRecord(s.record);
    for (const groups::Member& m : r.members) {
      const Node& n = nodes_.at(m.id.node);
      if (n.core == nullptr || n.incarnation != m.id.incarnation || !n.clients.count(m.id.local)) {
        return say(group + " still lists a member that is gone (node " + std::to_string(m.id.node) +
                   " client " + std::to_string(m.id.local) + ")");
      }
    }
  }
  return true;
}

}  // namespace cohort::sim
