#include "sim/liveness_sim.h"

#include <algorithm>
#include <cstdlib>

#include "base/check.h"

namespace cohort::sim {

using liveness::Outputs;
using liveness::PathState;

LivenessSim::LivenessSim(LivenessSimOptions options)
    : options_(std::move(options)), prng_(options_.seed) {
  CHECK(options_.nodes >= 1 && options_.nodes <= 65535);
  CHECK(options_.networks >= 1 && options_.networks <= 200);
  for (int k = 1; k <= options_.nodes; ++k) nodes_[static_cast<NodeId>(k)];
}

Endpoint LivenessSim::AddressOf(NodeId node, int network) {
  return Endpoint{(10u << 24) | (static_cast<uint32_t>(network) << 16) | node, 7000};
}

std::vector<liveness::Adapter> LivenessSim::Farm() const {
  std::vector<liveness::Adapter> all;
  for (const auto& [id, n] : nodes_) {
    for (int net = 1; net <= options_.networks; ++net) {
      all.push_back({id, AddressOf(id, net), "net" + std::to_string(net)});
    }
  }
  return all;
}

std::vector<NodeId> LivenessSim::live() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) {
    if (n.core != nullptr) out.push_back(id);
  }
  return out;
}

void LivenessSim::Start(NodeId node) {
  Node& n = nodes_.at(node);
  n.incarnation += 1000;
  n.heard.clear();  // a restarted daemon's transport starts afresh
  liveness::LivenessOptions o = options_.timing;
  o.self = node;
  o.incarnation = n.incarnation;
  n.core = std::make_unique<liveness::LivenessCore>(o);
  Outputs out;
  n.core->SetAdapters(now_, Farm(), out);
  Route(node, out);
  ArmTimer(node);
}

void LivenessSim::StartAll(Duration stagger) {
  for (auto& [id, n] : nodes_) {
    if (n.core != nullptr) continue;
    const Duration delay = Duration::Nanos(prng_.Between(0, stagger.nanos()));
    events_.Start(now_ + delay, id);
  }
}

void LivenessSim::CutAdapter(NodeId node, int network, bool cut) {
  if (cut) {
    cut_.insert({node, network});
  } else {
    cut_.erase({node, network});
  }
}

void LivenessSim::FailNetwork(int network, bool failed) {
  if (failed) {
    failed_networks_.insert(network);
  } else {
    failed_networks_.erase(network);
  }
}

void LivenessSim::Filter(NodeId from, NodeId to, int network, bool filtered) {
  if (filtered) {
    filters_.insert({from, to, network});
  } else {
    filters_.erase({from, to, network});
  }
}

void LivenessSim::Crash(NodeId node) {
  nodes_.at(node).core.reset();
  ++nodes_.at(node).timer_generation;
}

void LivenessSim::Restart(NodeId node) {
  CHECK(nodes_.at(node).core == nullptr);
  Start(node);
}

bool LivenessSim::PathWorks(NodeId from, NodeId to, int network) const {
  return from != to && alive(from) && alive(to) && !cut_.count({from, network}) &&
         !cut_.count({to, network}) && !failed_networks_.count(network) &&
         !filters_.count({from, to, network});
}

int LivenessSim::WorkingNetwork(NodeId from, NodeId to) const {
  for (int net = 1; net <= options_.networks; ++net) {
    if (PathWorks(from, to, net)) return net;
  }
  return -1;
}

void LivenessSim::Deliver(NodeId from, NodeId to, int network,
                          std::shared_ptr<const wire::Bytes> bytes) {
  if (network < 0 || !PathWorks(from, to, network) || prng_.Chance(options_.loss)) {
    ++dropped_;
    return;
  }
  const Duration latency =
      Duration::Nanos(prng_.Between(options_.latency_min.nanos(), options_.latency_max.nanos()));
  events_.Send(now_ + latency, to, from,
               Message{AddressOf(to, network), AddressOf(from, network), std::move(bytes)});
}

void LivenessSim::Route(NodeId from, Outputs& out) {
  for (auto& o : out) {
    if (auto* v = std::get_if<liveness::SendVia>(&o)) {
      const NodeId to = static_cast<NodeId>(v->to.ip & 0xffff);
      const int net = static_cast<int>((v->from.ip >> 16) & 0xff);
      if (nodes_.count(to) && v->from == AddressOf(from, net) && v->to == AddressOf(to, net)) {
        Deliver(from, to, net, std::make_shared<const wire::Bytes>(std::move(v->bytes)));
      }
    } else if (auto* s = std::get_if<liveness::SendTo>(&o)) {
      if (nodes_.count(s->node)) {
        Deliver(from, s->node, WorkingNetwork(from, s->node),
                std::make_shared<const wire::Bytes>(std::move(s->bytes)));
      }
    } else if (auto* b = std::get_if<liveness::Broadcast>(&o)) {
      auto shared = std::make_shared<const wire::Bytes>(std::move(b->bytes));
      for (const auto& [id, n] : nodes_) {
        if (id != from) Deliver(from, id, WorkingNetwork(from, id), shared);
      }
    } else if (auto* h = std::get_if<liveness::AddressHeard>(&o)) {
      nodes_.at(from).heard[h->remote.address] = h->heard;
    }
  }
  out.clear();
}

void LivenessSim::ArmTimer(NodeId node) {
  Node& n = nodes_.at(node);
  if (n.core == nullptr) return;
  const Instant at = n.core->NextDeadline();
  if (at == Instant::Max()) return;
  events_.Timer(at, node, ++n.timer_generation);
}

void LivenessSim::Step(const Events::Event& e) {
  using Kind = Events::Kind;
  Node& n = nodes_.at(e.to);
  if (e.kind == Kind::kStart) {
    if (n.core == nullptr) Start(e.to);
    return;
  }
  if (n.core == nullptr) {
    dropped_ += e.kind == Kind::kMessage;
    return;
  }
  if (e.kind == Kind::kTimer && e.generation != n.timer_generation) return;  // stale
  Outputs out;
  if (e.kind == Kind::kTimer) {
    n.core->Tick(now_, out);
  } else {
    ++delivered_;
    const Message& m = e.message;
    n.core->OnMessage(now_, e.from, m.local, m.remote, *m.bytes, out);
  }
  Route(e.to, out);
  ArmTimer(e.to);
}

bool LivenessSim::RunUntilTrue(const std::function<bool()>& done, Duration limit, Duration step) {
  return events_.RunUntil(now_, done, limit, step, [&](const Events::Event& e) { Step(e); });
}

size_t LivenessSim::WrongEntries(NodeId observer) const {
  size_t wrong = 0;
  for (const liveness::NetworkView& v : nodes_.at(observer).core->View()) {
    const int net = std::atoi(v.name.c_str() + 3);
    for (size_t i = 0; i < v.adapters.size(); ++i) {
      for (size_t j = 0; j < v.adapters.size(); ++j) {
        const NodeId from = v.adapters[i].node, to = v.adapters[j].node;
        if (from == to) continue;
        const PathState want = PathWorks(from, to, net) ? PathState::kUp : PathState::kDown;
        if (v.paths[i][j] != want) {
          ++wrong;
          NoteWrong(observer, from, to, net, v.paths[i][j], want);
        }
      }
    }
  }
  return wrong;
}

size_t LivenessSim::WrongPaths(NodeId observer,
                               const std::vector<std::tuple<NodeId, NodeId, int>>& paths) const {
  const liveness::LivenessCore& core = *nodes_.at(observer).core;
  size_t wrong = 0;
  for (const auto& [from, to, net] : paths) {
    const PathState want = PathWorks(from, to, net) ? PathState::kUp : PathState::kDown;
    const PathState shown = core.PathStateOf(AddressOf(from, net), AddressOf(to, net));
    if (shown != want) {
      ++wrong;
      NoteWrong(observer, from, to, net, shown, want);
    }
  }
  return wrong;
}

void LivenessSim::NoteWrong(NodeId observer, NodeId from, NodeId to, int net, PathState shown,
                            PathState truth) const {
  last_wrong_ = "at " + std::to_string((now_ - Instant::FromNanos(1'000'000'000)).millis()) +
                " ms node " + std::to_string(observer) + " shows " + std::to_string(from) + "->" +
                std::to_string(to) + " on net" + std::to_string(net) + " " +
                liveness::PathStateName(shown) + " (truly " + liveness::PathStateName(truth) + ")";
}

bool LivenessSim::PathSettled(NodeId from, NodeId to, int network) const {
  const PathState want = PathWorks(from, to, network) ? PathState::kUp : PathState::kDown;
  for (const auto& [id, n] : nodes_) {
    if (n.core == nullptr) continue;
    if (n.core->PathStateOf(AddressOf(from, network), AddressOf(to, network)) != want) {
      return false;
    }
  }
  return true;
}

std::optional<bool> LivenessSim::Heard(NodeId observer, const Endpoint& remote) const {
  const auto& heard = nodes_.at(observer).heard;
  auto it = heard.find(remote);
  if (it == heard.end()) return std::nullopt;
  return it->second;
}

}  // namespace cohort::sim
