#include "sim/network.h"

#include "base/digest.h"

namespace cohort::sim {

using transport::Outputs;

SimCluster::SimCluster(SimOptions options) : options_(std::move(options)), prng_(options_.seed) {
  CHECK(options_.nodes >= 1 && options_.nodes <= 65535);
  CHECK(options_.adapters >= 1 && options_.adapters <= 4);
  // The cluster key is derived from the seed so a run is fully determined by it.
  wire::Key key{};
  Prng key_prng(options_.seed ^ 0x6b6579);
  for (auto& b : key) b = static_cast<uint8_t>(key_prng.Next());
  keyring_.Install(key);
  for (int k = 1; k <= options_.nodes; ++k) {
    nodes_[static_cast<NodeId>(k)].incarnation = 1;
  }
  for (auto& [id, node] : nodes_) Boot(id);
}

Endpoint SimCluster::AddressOf(NodeId id, int adapter) const {
  const uint32_t ip = (10u << 24) | (static_cast<uint32_t>(adapter + 1) << 16) |
                      (static_cast<uint32_t>(id >> 8) << 8) | (id & 255u);
  return Endpoint{ip, 7000};
}

std::pair<NodeId, int> SimCluster::Locate(const Endpoint& e) const {
  if ((e.ip >> 24) != 10 || e.port != 7000) return {kNoNode, -1};
  const int adapter = static_cast<int>((e.ip >> 16) & 255) - 1;
  const NodeId id = static_cast<NodeId>(e.ip & 0xffff);
  if (adapter < 0 || adapter >= options_.adapters || !nodes_.count(id)) return {kNoNode, -1};
  return {id, adapter};
}

std::vector<NodeId> SimCluster::ids() const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

void SimCluster::Boot(NodeId id) {
  Node& node = nodes_.at(id);
  transport::TransportOptions o = options_.timing;
  o.self = id;
  o.incarnation = node.incarnation;
  o.revision = 1;
  o.adapters.clear();
  for (int a = 0; a < options_.adapters; ++a) {
    transport::AddressInfo info{AddressOf(id, a), 0xffff0000u, options_.mtu,
                                transport::AdapterType::kEthernet, transport::Cos::kControl};
    o.adapters.push_back({info, true});
  }
  o.seeds.clear();
  for (int s = 1; s <= options_.seeds && s <= options_.nodes; ++s) {
    if (s != id) o.seeds.push_back(AddressOf(static_cast<NodeId>(s), 0));
  }
  node.core = std::make_unique<transport::TransportCore>(o, keyring_, prng_.Next());
  Outputs out;
  node.core->Start(now_, out);
  Route(id, out);
}

void SimCluster::Crash(NodeId id) { nodes_.at(id).core.reset(); }

void SimCluster::Restart(NodeId id) {
  Node& node = nodes_.at(id);
  CHECK(node.core == nullptr);
  node.incarnation += 1000;
  Boot(id);
}

void SimCluster::Partition(const std::set<NodeId>& side_a) {
  side_.clear();
  for (const auto& [id, n] : nodes_) side_[id] = side_a.count(id) ? 1 : 2;
}

bool SimCluster::Blocked(NodeId a, int adapter_a, NodeId b, int adapter_b) const {
  if (cut_.count({a, adapter_a}) || cut_.count({b, adapter_b})) return true;
  if (side_.empty()) return false;
  return side_.at(a) != side_.at(b);
}

void SimCluster::Route(NodeId from_node, Outputs& out) {
  for (transport::Output& o : out) {
    if (auto* send = std::get_if<transport::SendDatagram>(&o)) {
      auto [to, adapter] = Locate(send->to);
      if (to == kNoNode || Blocked(from_node, send->adapter, to, adapter) ||
          prng_.Chance(options_.loss)) {
        ++dropped_;
        continue;
      }
      const int copies = prng_.Chance(options_.duplicate) ? 2 : 1;
      for (int c = 0; c < copies; ++c) {
        const Duration latency = Duration::Nanos(
            prng_.Between(options_.latency_min.nanos(), options_.latency_max.nanos()));
        in_flight_.Send(now_ + latency, to, from_node,
                        Datagram{adapter, AddressOf(from_node, send->adapter), send->bytes});
      }
    } else if (auto* done = std::get_if<transport::RequestDone>(&o)) {
      Node& node = nodes_.at(from_node);
      EchoResult r{std::move(*done), node.echo_started[done->id], now_};
      node.echo_started.erase(done->id);
      node.results.push_back(std::move(r));
    }
  }
  out.clear();
}

Instant SimCluster::NextNodeDeadline(NodeId* which) const {
  Instant best = Instant::Max();
  for (const auto& [id, node] : nodes_) {
    if (node.core == nullptr) continue;
    const Instant d = node.core->NextDeadline();
    if (d < best) {
      best = d;
      *which = id;
    }
  }
  return best;
}

bool SimCluster::RunUntilTrue(const std::function<bool()>& done, Duration limit) {
  const Instant deadline = now_ + limit;
  Outputs out;
  while (true) {
    if (done()) return true;
    NodeId timer_node = kNoNode;
    const Instant timer_at = NextNodeDeadline(&timer_node);
    const Instant net_at = in_flight_.empty() ? Instant::Max() : in_flight_.next_at();
    const Instant next = std::min(timer_at, net_at);
    if (next > deadline) {
      now_ = deadline;
      return done();
    }
    now_ = std::max(now_, next);
    if (net_at <= timer_at) {
      const auto e = in_flight_.Pop();
      const Datagram& d = e.message;
      Node& node = nodes_.at(e.to);
      if (node.core == nullptr ||
          Blocked(Locate(d.from).first, Locate(d.from).second, e.to, d.adapter)) {
        ++dropped_;
        continue;
      }
      ++delivered_;
      trace_ = Digest64(d.bytes, trace_ ^ (static_cast<uint64_t>(now_.nanos()) * 31 + e.to));
      node.core->OnDatagram(now_, static_cast<uint8_t>(d.adapter), d.from, d.bytes, out);
      Route(e.to, out);
    } else {
      nodes_.at(timer_node).core->Tick(now_, out);
      Route(timer_node, out);
    }
  }
}

void SimCluster::RunUntil(Instant deadline) {
  RunUntilTrue([] { return false; }, deadline - now_);
}

bool SimCluster::TablesConverged() const {
  // Cheap test first: it runs after every event, and digests differ until the end.
  std::optional<uint64_t> digest;
  for (const auto& [id, node] : nodes_) {
    if (node.core == nullptr) continue;
    if (digest && *digest != node.core->table().digest()) return false;
    digest = node.core->table().digest();
  }
  const transport::TransportCore* first = nullptr;
  size_t live = 0;
  for (const auto& [id, node] : nodes_) live += node.core != nullptr;
  for (const auto& [id, node] : nodes_) {
    if (node.core == nullptr) continue;
    const auto& table = node.core->table();
    if (first == nullptr) first = node.core.get();
    if (table.digest() != first->table().digest()) return false;
    // Every live node's current incarnation is listed (a restarted node replaced its entry).
    size_t listed = 0;
    for (const auto& [other_id, other] : nodes_) {
      if (other.core == nullptr) continue;
      const transport::NodeEntry* e = table.Find(other_id);
      if (e == nullptr || e->incarnation != other.incarnation) return false;
      ++listed;
    }
    if (listed != live) return false;
  }
  return first != nullptr;
}

void SimCluster::Echo(NodeId from, NodeId to) {
  Outputs out;
  const uint8_t payload[] = {'s', 'i', 'm'};
  Node& node = nodes_.at(from);
  auto id = node.core->Echo(now_, to, payload, out);
  if (id) {
    node.echo_started[*id] = now_;
  } else {
    node.results.push_back(EchoResult{{0, to, false, {}, 0, {}, {}, {}}, now_, now_});
  }
  Route(from, out);
}

}  // namespace cohort::sim
