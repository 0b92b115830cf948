// SimCluster: many TransportCores in one process over a virtual network and clock.
//
// Node k's adapter a has address 10.(a+1).(k>>8).(k&255):7000 on subnet 10.(a+1).0.0/16, so
// each adapter index is its own network, as in a two-network server farm. Every datagram
// gets a latency drawn from [latency_min, latency_max] (so datagrams reorder), may be lost
// or duplicated, and is dropped when its sending or receiving adapter is cut or the two
// nodes are partitioned. Crash removes a node; Restart brings it back with a new
// incarnation. Everything random comes from one seed, so a run replays exactly;
// trace_digest() summarises every delivery so two runs can be compared.
// Single-threaded.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "base/prng.h"
#include "sim/node_events.h"
#include "transport/core.h"

namespace cohort::sim {

struct SimOptions {
  int nodes = 3;
  int adapters = 2;
  uint64_t seed = 1;
  Duration latency_min = Duration::Micros(200);
  Duration latency_max = Duration::Millis(3);
  double loss = 0.0;
  double duplicate = 0.0;
  uint16_t mtu = 1500;
  int seeds = 1;  // nodes 1..seeds are every node's seed addresses (primary adapter)
  transport::TransportOptions timing;  // timeouts and periods for every node
};

class SimCluster {
 public:
  explicit SimCluster(SimOptions options);

  Instant now() const { return now_; }
  // Runs events until `deadline` (virtual time).
  void RunUntil(Instant deadline);
  void RunFor(Duration d) { RunUntil(now_ + d); }
  // Runs until `done()` holds (checked after every event) or `limit` passes. Returns whether
  // it held.
  bool RunUntilTrue(const std::function<bool()>& done, Duration limit);

  bool alive(NodeId id) const { return nodes_.at(id).core != nullptr; }
  transport::TransportCore& core(NodeId id) { return *nodes_.at(id).core; }
  std::vector<NodeId> ids() const;
  Endpoint AddressOf(NodeId id, int adapter) const;

  // True when every live node's table lists exactly the live nodes' current entries and all
  // digests are equal.
  bool TablesConverged() const;

  // An echo's outcome with the virtual times it started and finished.
  struct EchoResult : transport::RequestDone {
    Instant started;
    Instant finished;
  };
  // Starts an echo from `from` to `to`; its outcome lands in results(from).
  void Echo(NodeId from, NodeId to);
  const std::vector<EchoResult>& results(NodeId id) const { return nodes_.at(id).results; }

  // ---- faults ----
  void SetLoss(double p) { options_.loss = p; }
  void CutAdapter(NodeId id, int adapter) { cut_.insert({id, adapter}); }
  void HealAdapter(NodeId id, int adapter) { cut_.erase({id, adapter}); }
  // Nodes in different sides cannot exchange datagrams until HealPartition.
  void Partition(const std::set<NodeId>& side_a);
  void HealPartition() { side_.clear(); }
  void Crash(NodeId id);
  void Restart(NodeId id);

  uint64_t trace_digest() const { return trace_; }
  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Node {
    std::unique_ptr<transport::TransportCore> core;
    Incarnation incarnation = 0;
    std::vector<EchoResult> results;
    std::map<uint64_t, Instant> echo_started;
  };
  struct Datagram {
    int adapter = 0;  // the receiver's
    Endpoint from;
    wire::Bytes bytes;
  };

  void Boot(NodeId id);
  void Route(NodeId from_node, transport::Outputs& out);
  bool Blocked(NodeId a, int adapter_a, NodeId b, int adapter_b) const;
  std::pair<NodeId, int> Locate(const Endpoint& e) const;
  Instant NextNodeDeadline(NodeId* which) const;

  SimOptions options_;
  wire::Keyring keyring_;
  Prng prng_;
  Instant now_ = Instant::FromNanos(1'000'000'000);
  std::map<NodeId, Node> nodes_;
  NodeEvents<Datagram> in_flight_;
  std::set<std::pair<NodeId, int>> cut_;
  std::map<NodeId, int> side_;
  uint64_t trace_ = 0xcbf29ce484222325ULL;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace cohort::sim
