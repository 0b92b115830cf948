#include "sim/groups_sim.h"

#include <algorithm>

#include "base/digest.h"

namespace cohort::sim {

using groups::ChangeKind;
using groups::GroupRecord;
using groups::Outputs;
using groups::RequestId;
using groups::Role;

namespace {

std::string Name(const RequestId& r) {
  return std::to_string(r.node) + "/" + std::to_string(r.incarnation) + "/" + std::to_string(r.seq);
}

bool OfDaemon(const groups::Member& m, const groups::MemberId& daemon) {
  return m.id.node == daemon.node && m.id.incarnation == daemon.incarnation;
}

}  // namespace

bool GroupsSim::Lists(const GroupRecord& r, const groups::MemberId& id) {
  return std::any_of(r.members.begin(), r.members.end(),
                     [&](const groups::Member& m) { return m.id == id; });
}

// `c` is exactly what took the record from `before` to `after`.
bool GroupsSim::Steps(const GroupRecord& before, const GroupRecord& after,
                      const groups::Change& c) {
  std::vector<groups::Member> expected = before.members;
  auto drop = [&](auto pred) {
    const size_t n = expected.size();
    expected.erase(std::remove_if(expected.begin(), expected.end(), pred), expected.end());
    return expected.size() != n;
  };
  bool changed = true;
  switch (c.kind) {
    case ChangeKind::kState:
      return before.members == after.members && after.state == c.value;
    case ChangeKind::kJoin:
      changed = !Lists(before, c.member);
      expected.push_back(groups::Member{c.member, c.role});
      break;
    case ChangeKind::kLeave:
    case ChangeKind::kProcessDied:
      changed = drop([&](const groups::Member& m) { return m.id == c.member; });
      break;
    case ChangeKind::kNodeDied:
      changed = drop([&](const groups::Member& m) { return OfDaemon(m, c.member); });
      break;
  }
  return changed && expected == after.members && before.state == after.state;
}

GroupsSim::GroupsSim(GroupsSimOptions options)
    : options_(std::move(options)), prng_(options_.seed) {
  for (int k = 1; k <= options_.nodes; ++k) nodes_[static_cast<NodeId>(k)];
}

Duration GroupsSim::Between(Duration lo, Duration hi) {
  return Duration::Nanos(prng_.Between(lo.nanos(), hi.nanos()));
}

void GroupsSim::Violation(const std::string& what) {
  if (violations_.size() < 20) violations_.push_back(what);
}

void GroupsSim::At(NodeId node, Duration delay, std::function<void(Node&)> f) {
  const Incarnation inc = nodes_.at(node).incarnation;
  events_.Send(now_ + delay, node, kNoNode, [this, node, inc, f = std::move(f)] {
    Node& n = nodes_.at(node);
    if (n.core == nullptr || n.incarnation != inc) {
      ++dropped_;
      return;
    }
    f(n);
  });
}

// ---- nodes and their clients ----

void GroupsSim::StartAll(Duration stagger) {
  for (auto& [id, n] : nodes_) {
    if (n.core == nullptr) events_.Start(now_ + Between(Duration(), stagger), id);
  }
}

void GroupsSim::Start(NodeId node) {
  Node& n = nodes_.at(node);
  n.incarnation += 1000;
  groups::GroupsOptions o = options_.timing;
  o.self = node;
  o.incarnation = n.incarnation;
  n.core = std::make_unique<groups::GroupsCore>(o);
  n.clients.clear();
  GiveView(node);
  for (int k = 0; k < options_.clients; ++k) AddClient(node);
  ScheduleViews(true);  // the others learn of this incarnation
}

void GroupsSim::AddClient(NodeId node) {
  Node& n = nodes_.at(node);
  const uint32_t local = n.next_local++;
  Client& c = n.clients[local];
  c.local = local;
  // Every client is in g1; most are in g2 too, which depends on g1 and rejects by default.
  c.wanted["g1"] = local % 2 == 1 ? Role::kProvider : Role::kSubscriber;
  if (local % 3 != 0) c.wanted["g2"] = Role::kProvider;
  At(node, Between(Duration(), Duration::Millis(20)),
     [this, node, local](Node&) { ClientJoin(node, local); });
  At(node, Between(Duration::Millis(5), Duration::Millis(40)),
     [this, node, local](Node&) { ClientPropose(node, local); });
}

void GroupsSim::ClientJoin(NodeId node, uint32_t local) {
  Node& n = nodes_.at(node);
  auto c = n.clients.find(local);
  if (c == n.clients.end()) return;
  Outputs out;
  for (const auto& [group, role] : c->second.wanted) {
    if (c->second.joined.count(group) || c->second.joining.count(group)) continue;
    const bool dependent = group == "g2";
    const RequestId id =
        n.core->Join(now_, local, group, role, /*default_approve=*/!dependent,
                     dependent ? std::vector<std::string>{"g1"} : std::vector<std::string>{}, out);
    if (id.seq != 0) {
      c->second.joining.insert(group);
      c->second.open.insert(id);
      c->second.joins[id] = group;
    }
  }
  Route(node, out);
}

void GroupsSim::ClientPropose(NodeId node, uint32_t local) {
  Node& n = nodes_.at(node);
  auto it = n.clients.find(local);
  if (it == n.clients.end()) return;
  Client& c = it->second;
  std::vector<std::string> mine;
  for (const std::string& g : c.joined) {
    if (c.wanted.at(g) == Role::kProvider) mine.push_back(g);
  }
  if (proposing_ && c.open.empty() && !c.joined.empty() && prng_.Chance(0.03)) {
    // Now and then a client leaves a group (and joins it again once it is out).
    auto it2 = c.joined.begin();
    std::advance(it2, static_cast<long>(prng_.Below(c.joined.size())));
    Outputs out;
    const RequestId id = n.core->Leave(now_, local, *it2, out);
    if (id.seq != 0) c.open.insert(id);
    Route(node, out);
  } else if (proposing_ && !mine.empty() && c.open.empty()) {  // one request at a time
    const std::string& group = mine[prng_.Below(mine.size())];
    const std::string value = "n" + std::to_string(node) + ".c" + std::to_string(local) + "." +
                              std::to_string(++c.proposals);
    Outputs out;
    const RequestId id =
        n.core->Propose(now_, local, group, groups::Bytes(value.begin(), value.end()),
                        static_cast<uint8_t>(1 + prng_.Below(3)), out);
    if (id.seq != 0) c.open.insert(id);
    Route(node, out);
  }
  At(node, Between(Duration::Millis(5), Duration::Millis(40)),
     [this, node, local](Node&) { ClientPropose(node, local); });
}

void GroupsSim::KillClient(NodeId node) {
  Node& n = nodes_.at(node);
  if (n.core == nullptr || n.clients.empty()) return;
  auto it = n.clients.begin();
  std::advance(it, static_cast<long>(prng_.Below(n.clients.size())));
  const uint32_t local = it->first;
  n.clients.erase(it);
  Outputs out;
  n.core->ProcessDied(now_, local, out);
  Route(node, out);
  At(node, Duration::Millis(20), [this, node](Node&) { AddClient(node); });
}

void GroupsSim::ToClient(NodeId node, const groups::Output& o) {
  Node& n = nodes_.at(node);
  if (auto* out = std::get_if<groups::Outcome>(&o)) OnOutcome(node, *out);
  auto local_of = [](const auto& v) { return v.local; };
  const uint32_t local = std::visit(
      [&](const auto& v) -> uint32_t {
        if constexpr (requires { v.local; }) {
          return local_of(v);
        } else {
          return 0;
        }
      },
      o);
  auto it = n.clients.find(local);
  if (it == n.clients.end()) return;  // a client gone
  Client& c = it->second;
  if (auto* note = std::get_if<groups::Notify>(&o)) {
    Heard(node, local, note->group, note->related, note->change);
  } else if (auto* r = std::get_if<groups::Resync>(&o)) {
    CheckResync(node, local, *r);
    c.heard[{r->group, r->related}] = r->version;
    const groups::MemberId me{node, n.incarnation, local};
    if (r->related.empty() && c.joining.count(r->group)) {
      for (const auto& m : r->members) {
        if (m.id == me) {
          c.joined.insert(r->group);
          c.joining.erase(r->group);
        }
      }
    }
  } else if (auto* ask = std::get_if<groups::VoteAsk>(&o)) {
    const double roll = static_cast<double>(prng_.Below(1000)) / 1000.0;
    if (roll < 0.05) return;  // silent: the default vote
    const bool approve = roll >= 0.15;
    At(node, Between(Duration(), Duration::Millis(3)), [this, node, v = *ask, approve](Node& x) {
      Outputs out;
      x.core->Vote(now_, v.local, v.group, v.request, v.phase, approve, out);
      Route(node, out);
    });
  } else if (auto* lost = std::get_if<groups::Lost>(&o)) {
    c.joined.erase(lost->group);
    c.joining.erase(lost->group);
    ForgetStreams(c, lost->group);
    At(node, Duration::Millis(50), [this, node, local](Node&) { ClientJoin(node, local); });
  }
}

// Out of `group`: its own stream and those of the groups it depends on start afresh at the
// next join.
void GroupsSim::ForgetStreams(Client& c, const std::string& group) {
  for (auto h = c.heard.begin(); h != c.heard.end();) {
    const bool drop =
        (h->first.first == group && h->first.second.empty()) || h->first.second == group;
    h = drop ? c.heard.erase(h) : std::next(h);
  }
}

void GroupsSim::OnOutcome(NodeId node, const groups::Outcome& o) {
  if (o.request.seq == 0) return;  // refused by the node itself
  if (!answered_.insert(o.request).second) {
    Violation("request " + Name(o.request) + " answered twice");
  }
  o.outcome.reason ? ++aborts_ : ++commits_;
  Node& n = nodes_.at(node);
  auto c = n.clients.find(o.local);
  if (c != n.clients.end()) {
    c->second.open.erase(o.request);
    auto join = c->second.joins.find(o.request);
    if (join != c->second.joins.end()) {
      if (o.outcome.reason) c->second.joining.erase(join->second);
      c->second.joins.erase(join);
    }
  }
  if (o.outcome.reason == groups::AbortReason::kNoGroup) {
    // Not recorded (there is no record): it must never be decided otherwise, then or later.
    no_group_.insert(o.request);
    if (decided_.count(o.request)) {
      Violation("request " + Name(o.request) + " answered \"no such group\" but recorded");
    }
    return;
  }
  auto d = decided_.find(o.request);
  if (d == decided_.end()) {
    Violation("request " + Name(o.request) + " answered but never recorded");
  } else if (!(d->second == o.outcome)) {
    Violation("request " + Name(o.request) + " answered otherwise than recorded");
  }
}

// A snapshot is the registry's record at its version, and moves the member forward.
void GroupsSim::CheckResync(NodeId node, uint32_t local, const groups::Resync& r) {
  const std::string who = "node " + std::to_string(node) + " client " + std::to_string(local);
  auto h = history_[r.group].find(r.version);
  if (h == history_[r.group].end() || h->second.second.state != r.state ||
      h->second.second.members != r.members || r.token < h->second.first) {
    Violation(who + " resynced to a " + r.group + " v" + std::to_string(r.version) +
              " the registry does not hold");
  }
  const Client& c = nodes_.at(node).clients.at(local);
  auto heard = c.heard.find({r.group, r.related});
  if (heard != c.heard.end() && heard->second >= r.version) {
    Violation(who + " resynced " + r.group + " back to v" + std::to_string(r.version));
  }
}

void GroupsSim::Heard(NodeId node, uint32_t local, const std::string& group,
                      const std::string& related, const groups::Change& c) {
  ++delivered_;
  const std::string who = "node " + std::to_string(node) + " client " + std::to_string(local);
  auto h = history_[group].find(c.version);
  if (h == history_[group].end() || h->second.first != c.token) {
    Violation(who + " told of " + group + " v" + std::to_string(c.version) +
              " that the registry does not hold at token " + std::to_string(c.token));
    return;
  }
  auto [agreed, first_told] = told_.try_emplace({group, c.version}, c);
  if (!first_told && !(agreed->second == c)) {
    Violation(who + " told of " + group + " v" + std::to_string(c.version) +
              " otherwise than another member");
  }
  GroupRecord before;
  if (auto prev = history_[group].find(c.version - 1); prev != history_[group].end()) {
    before = prev->second.second;
  }
  if (!Steps(before, h->second.second, c)) {
    Violation(who + " told of a change that is not the registry's step to v" +
              std::to_string(c.version) + " of " + group);
  }
  Client& cl = nodes_.at(node).clients.at(local);
  auto [it, first] = cl.heard.try_emplace({group, related}, c.version);
  if (!first) {
    if (c.version != it->second + 1) {
      Violation(who + " heard " + group + (related.empty() ? "" : " (for " + related + ")") + " v" +
                std::to_string(c.version) + " after v" + std::to_string(it->second));
    }
    it->second = c.version;
  }
  const groups::MemberId me{node, nodes_.at(node).incarnation, local};
  if (related.empty() && c.member == me) {
    if (c.kind == ChangeKind::kJoin) {
      cl.joined.insert(group);
      cl.joining.erase(group);
    } else if (c.kind == ChangeKind::kLeave) {
      cl.joined.erase(group);
      ForgetStreams(cl, group);
      At(node, Duration::Millis(100), [this, node, local](Node&) { ClientJoin(node, local); });
    }
  }
}

}  // namespace cohort::sim
