#include "sim/membership_sim.h"

#include <algorithm>

#include "base/digest.h"

namespace cohort::sim {

using membership::MemberState;
using membership::Outputs;
using membership::Role;

MembershipSim::MembershipSim(MembershipSimOptions options)
    : options_(std::move(options)), prng_(options_.seed) {
  CHECK(options_.nodes >= 1 && options_.nodes <= 65535);
  if (options_.timing.priority.empty()) {
    for (int k = 1; k <= options_.nodes; ++k) {
      options_.timing.priority.push_back(static_cast<NodeId>(k));
    }
  }
  for (int k = 1; k <= options_.nodes; ++k) nodes_[static_cast<NodeId>(k)].incarnation = 0;
}

std::vector<NodeId> MembershipSim::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

std::vector<NodeId> MembershipSim::live() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) {
    if (n.core != nullptr && !n.leaving) out.push_back(id);
  }
  return out;
}

void MembershipSim::Start(NodeId id) {
  Node& n = nodes_.at(id);
  CHECK(n.core == nullptr);
  n.incarnation += 1000;
  n.leaving = false;
  n.stalled = false;
  n.last_version = 0;
  membership::MembershipOptions o = options_.timing;
  o.self = id;
  o.incarnation = n.incarnation;
  n.core = std::make_unique<membership::MembershipCore>(o, prng_.Next());
  Outputs out;
  for (const auto& [node, disk] : broken_paths_) {
    if (node == id) n.core->OnDiskCheck(now_, disk, false, out);
  }
  n.core->Start(now_, out);
  Route(id, out);
  ArmTimer(id);
}

void MembershipSim::StartAll(Duration stagger) {
  for (auto& [id, n] : nodes_) {
    if (n.core != nullptr) continue;
    const Duration delay = Duration::Nanos(prng_.Between(0, stagger.nanos()));
    events_.Start(now_ + delay, id);
  }
}

void MembershipSim::Crash(NodeId id) {
  nodes_.at(id).core.reset();
  ++nodes_.at(id).timer_generation;
}

void MembershipSim::Restart(NodeId id) { Start(id); }

void MembershipSim::Leave(NodeId id) {
  Node& n = nodes_.at(id);
  n.leaving = true;
  Outputs out;
  n.core->Leave(now_, out);
  Route(id, out);
  ArmTimer(id);
}

void MembershipSim::Pause(NodeId id, Duration d) {
  Node& n = nodes_.at(id);
  n.paused_until = now_ + d;
  // Stalled for K periods or more, a node may rightly be declared failed.
  if (d >= options_.timing.period * options_.timing.miss_limit) n.stalled = true;
}

void MembershipSim::Partition(const std::set<NodeId>& side_a) {
  side_.clear();
  for (const auto& [id, n] : nodes_) side_[id] = side_a.count(id) ? 1 : 2;
}

void MembershipSim::SetPathBroken(NodeId id, const std::string& disk, bool broken) {
  if (broken) {
    broken_paths_.insert({id, disk});
    ever_broken_[disk].insert(id);
  } else {
    broken_paths_.erase({id, disk});
  }
  Node& n = nodes_.at(id);
  if (n.core == nullptr) return;
  Outputs out;
  n.core->OnDiskCheck(now_, disk, !broken, out);
  Route(id, out);
  AfterStep(id);
  ArmTimer(id);
}

bool MembershipSim::DiskEverywhere(const std::string& disk, membership::DiskState state,
                                   NodeId node, membership::PathState path) const {
  for (NodeId other : live()) {
    const auto& map = nodes_.at(other).core->map();
    auto it = map.disks.find(disk);
    if (it == map.disks.end() || map.StateOf(it->second) != state) return false;
    if (node == kNoNode) continue;
    auto p = it->second.paths.find(node);
    if (p == it->second.paths.end() || p->second.state != path) return false;
  }
  return true;
}

bool MembershipSim::Connected(NodeId a, NodeId b) const {
  return side_.empty() || side_.at(a) == side_.at(b);
}

void MembershipSim::Deliver(NodeId from, NodeId to, std::shared_ptr<const wire::Bytes> bytes) {
  if (!Connected(from, to) || prng_.Chance(options_.loss)) {
    ++dropped_;
    return;
  }
  const Duration latency =
      Duration::Nanos(prng_.Between(options_.latency_min.nanos(), options_.latency_max.nanos()));
  bytes_ += bytes->size();
  events_.Send(now_ + latency, to, from, std::move(bytes));
}

void MembershipSim::Route(NodeId from, Outputs& out) {
  for (auto& o : out) {
    if (auto* s = std::get_if<membership::SendTo>(&o)) {
      if (nodes_.count(s->to)) {
        Deliver(from, s->to, std::make_shared<const wire::Bytes>(std::move(s->bytes)));
      }
    } else if (auto* b = std::get_if<membership::Broadcast>(&o)) {
      auto shared = std::make_shared<const wire::Bytes>(std::move(b->bytes));
      for (const auto& [id, n] : nodes_) {
        if (id != from) Deliver(from, id, shared);
      }
    }
  }
  out.clear();
}

void MembershipSim::ArmTimer(NodeId id) {
  Node& n = nodes_.at(id);
  if (n.core == nullptr) return;
  const Instant at = std::max(n.core->NextDeadline(), n.paused_until);
  if (at == Instant::Max()) return;
  events_.Timer(at, id, ++n.timer_generation);
}

// Checks run after node `id` took a step.
void MembershipSim::AfterStep(NodeId id) {
  Node& n = nodes_.at(id);
  if (n.core == nullptr) return;
  const auto& map = n.core->map();
  if (map.version < n.last_version) {
    violations_.push_back("node " + std::to_string(id) + " map version went back from " +
                          std::to_string(n.last_version) + " to " + std::to_string(map.version));
  }
  if (map.version == n.last_version) return;
  n.last_version = map.version;
  for (const auto& [disk, entry] : map.disks) {
    auto it = ever_broken_.find(disk);
    const size_t broken = it == ever_broken_.end() ? 0 : it->second.size();
    if (entry.failed && broken < 2) {  // "several nodes" (M11), whatever the core says
      violations_.push_back("disk " + disk + " declared failed in node " + std::to_string(id) +
                            "'s map though only " + std::to_string(broken) +
                            " node(s) ever lost their path to it");
    }
  }
  // False positives are judged where failures are decided, the supervisor, and only for
  // fresh up -> failed transitions: marks made during a partition stay until the node
  // rejoins, and declarations already under way when a partition heals are not new.
  if (n.core->role() != Role::kSupervisor) {
    n.last_supervised.members.clear();
    return;
  }
  const bool judged = options_.loss <= 0.05 && side_.empty() &&
                      now_ >= healed_at_ + options_.timing.notify + options_.timing.period * 5;
  for (const auto& [mid, m] : map.members) {
    if (!judged || m.state != MemberState::kFailed) continue;
    const membership::Member* before = n.last_supervised.Find(mid);
    if (before == nullptr || before->state != MemberState::kUp ||
        before->incarnation != m.incarnation) {
      continue;
    }
    const Node& subject = nodes_.at(mid);
    if (subject.core != nullptr && subject.incarnation == m.incarnation && !subject.stalled) {
      violations_.push_back("false positive: node " + std::to_string(mid) +
                            " is alive but supervisor " + std::to_string(id) +
                            " marked it failed (map version " + std::to_string(map.version) + ")");
    }
  }
  n.last_supervised = map;
}

bool MembershipSim::RunUntilTrue(const std::function<bool()>& done, Duration limit) {
  const Instant deadline = now_ + limit;
  Outputs out;
  Instant last_at;
  int same_instant = 0;
  while (!done()) {
    if (events_.empty() || events_.next_at() > deadline) {
      now_ = deadline;
      return done();
    }
    Events::Event e = events_.Pop();
    now_ = std::max(now_, e.at);
    // A core whose deadline never moves would spin here forever: report it and stop.
    same_instant = e.at == last_at ? same_instant + 1 : 0;
    last_at = e.at;
    if (same_instant > 1000000) {
      violations_.push_back("no progress: a million events at one instant");
      return false;
    }
    Step(std::move(e), out);
  }
  return true;
}

void MembershipSim::Step(Events::Event e, Outputs& out) {
  using Kind = Events::Kind;
  Node& n = nodes_.at(e.to);
  if (e.kind == Kind::kStart) {
    if (n.core == nullptr) Start(e.to);
    return;
  }
  if (n.core == nullptr) {
    dropped_ += e.kind == Kind::kMessage;  // a message for a node that is down
    return;
  }
  if (e.kind == Kind::kTimer && e.generation != n.timer_generation) return;  // stale
  if (n.paused_until > now_) {
    // A stalled node handles nothing; what arrives waits in its socket buffer.
    if (e.kind == Kind::kMessage) {
      events_.Postpone(std::move(e), n.paused_until);
    } else {
      ArmTimer(e.to);
    }
    return;
  }
  if (e.kind == Kind::kTimer) {
    n.core->Tick(now_, out);
  } else {
    ++delivered_;
    trace_ = Digest64(*e.message, trace_ ^ (static_cast<uint64_t>(now_.nanos()) * 31 + e.to));
    n.core->OnMessage(now_, e.from, *e.message, out);
  }
  Route(e.to, out);
  AfterStep(e.to);
  if (n.leaving && n.core->role() == Role::kLeft) {
    n.core.reset();  // a node that left stops, as cohortd exits after leaving
    ++n.timer_generation;
    return;
  }
  ArmTimer(e.to);
}

NodeId MembershipSim::TopPriority(const std::vector<NodeId>& among) const {
  NodeId best = kNoNode;
  for (NodeId id : among) {
    if (best == kNoNode || nodes_.at(id).core->Outranks(id, best)) best = id;
  }
  return best;
}

bool MembershipSim::Stable() const {
  const auto up = live();
  if (up.empty()) return false;
  std::map<int, std::vector<NodeId>> components;
  for (NodeId id : up) components[side_.empty() ? 0 : side_.at(id)].push_back(id);
  for (const auto& [side, members] : components) {
    // O(N), and cheap tests first (this runs after every event): the same version from the
    // same supervisor is the same map, so checking every node's supervisor and version, then
    // the supervisor's rank and its map once, covers every map.
    const NodeId top = nodes_.at(members.front()).core->supervisor();
    if (top == kNoNode || nodes_.at(top).core == nullptr) return false;
    const auto& sup = nodes_.at(top).core;
    if (sup->role() != Role::kSupervisor) return false;
    for (NodeId id : members) {
      const auto& c = nodes_.at(id).core;
      if (c->supervisor() != top || c->map().supervisor != top) return false;
      if (id != top && c->role() != Role::kMember) return false;
      if (c->map().version != sup->map().version) return false;
    }
    if (TopPriority(members) != top) return false;
    for (NodeId other : members) {
      const auto* m = sup->map().Find(other);
      if (m == nullptr || m->state != MemberState::kUp ||
          m->incarnation != nodes_.at(other).incarnation) {
        return false;
      }
    }
  }
  return true;
}

bool MembershipSim::MarkedEverywhere(NodeId id, Incarnation inc, MemberState state) const {
  for (NodeId other : live()) {
    const auto* m = nodes_.at(other).core->map().Find(id);
    if (m == nullptr || m->incarnation != inc || m->state != state) return false;
  }
  return true;
}

}  // namespace cohort::sim
