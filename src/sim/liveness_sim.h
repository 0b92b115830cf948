// LivenessSim: many LivenessCores over a virtual clock and a farm of networks, from one seed.
//
// Node k has one adapter on each network n: 10.n.(k>>8).(k&255):7000, network "net<n>".
// A heartbeat (SendVia) travels only the path it names; other messages (rows, row requests)
// travel as the transport carries them: by any path that works from sender to receiver.
// Faults are what break paths in a farm: an adapter cut (both directions), a network's
// switch failed, a one-way filter on one path, a node crashed (and restarted with a new
// incarnation). Messages get a latency in [latency_min, latency_max] and may be lost. The
// ground truth — which paths work — is known here, so WrongEntries() counts every matrix
// entry of a node that disagrees with it. Single-threaded; timers in a heap.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "base/prng.h"
#include "liveness/core.h"
#include "sim/node_events.h"

namespace cohort::sim {

struct LivenessSimOptions {
  int nodes = 5;
  int networks = 2;
  uint64_t seed = 1;
  Duration latency_min = Duration::Micros(100);
  Duration latency_max = Duration::Millis(2);
  double loss = 0.0;
  liveness::LivenessOptions timing;  // period, miss_limit, refresh for every node
};

class LivenessSim {
 public:
  explicit LivenessSim(LivenessSimOptions options);

  Instant now() const { return now_; }
  // Starts every node within `stagger`.
  void StartAll(Duration stagger);
  // Runs until `done()` holds — checked every `step` of virtual time — or `limit` passes.
  bool RunUntilTrue(const std::function<bool()>& done, Duration limit,
                    Duration step = Duration::Millis(10));
  void RunFor(Duration d) {
    RunUntilTrue([] { return false; }, d);
  }

  static Endpoint AddressOf(NodeId node, int network);

  // ---- faults ----
  void CutAdapter(NodeId node, int network, bool cut);
  void FailNetwork(int network, bool failed);
  // Datagrams from `from`'s adapter to `to`'s adapter on `network` are dropped (one way).
  void Filter(NodeId from, NodeId to, int network, bool filtered);
  void Crash(NodeId node);
  void Restart(NodeId node);
  void SetLoss(double p) { options_.loss = p; }

  // ---- ground truth and checks ----
  bool alive(NodeId node) const { return nodes_.at(node).core != nullptr; }
  liveness::LivenessCore& core(NodeId node) { return *nodes_.at(node).core; }
  std::vector<NodeId> live() const;
  bool PathWorks(NodeId from, NodeId to, int network) const;
  // Matrix entries of `observer` that disagree with the truth (unknown counts as wrong).
  size_t WrongEntries(NodeId observer) const;
  // Of `paths` (from, to, network), those `observer` shows otherwise than they are: the
  // sampled check of large farms, where a whole matrix per observer is too much to compare.
  size_t WrongPaths(NodeId observer,
                    const std::vector<std::tuple<NodeId, NodeId, int>>& paths) const;
  // The last wrong entry a check above found, in words ("" if none yet).
  const std::string& last_wrong() const { return last_wrong_; }
  // Every live node shows this one path as it truly is.
  bool PathSettled(NodeId from, NodeId to, int network) const;
  // What `observer` last told its transport about `remote` (AddressHeard); nullopt: nothing.
  std::optional<bool> Heard(NodeId observer, const Endpoint& remote) const;

  uint64_t delivered() const { return delivered_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Node {
    std::unique_ptr<liveness::LivenessCore> core;
    Incarnation incarnation = 0;
    uint64_t timer_generation = 0;
    std::map<Endpoint, bool> heard;  // AddressHeard, as the transport would hold it
  };
  struct Message {
    Endpoint local, remote;  // the receiver's adapter and the sender's
    std::shared_ptr<const wire::Bytes> bytes;
  };
  using Events = NodeEvents<Message>;

  void Start(NodeId node);
  std::vector<liveness::Adapter> Farm() const;
  void Route(NodeId from, liveness::Outputs& out);
  void Deliver(NodeId from, NodeId to, int network, std::shared_ptr<const wire::Bytes> bytes);
  // Any network on which `from` reaches `to`, or -1.
  int WorkingNetwork(NodeId from, NodeId to) const;
  void ArmTimer(NodeId node);
  void Step(const Events::Event& e);
  void NoteWrong(NodeId observer, NodeId from, NodeId to, int net, liveness::PathState shown,
                 liveness::PathState truth) const;

  LivenessSimOptions options_;
  Prng prng_;
  Instant now_ = Instant::FromNanos(1'000'000'000);
  std::map<NodeId, Node> nodes_;
  Events events_;
  std::set<std::pair<NodeId, int>> cut_;
  std::set<int> failed_networks_;
  std::set<std::tuple<NodeId, NodeId, int>> filters_;
  uint64_t delivered_ = 0;
  uint64_t dropped_ = 0;
  mutable std::string last_wrong_;
};

}  // namespace cohort::sim
