// HierarchyService: the daemon's part of the hierarchy (M14). With [cluster.parent] set, the
// node that supervises its cluster runs the cluster's node in the parent (a LevelLink and
// its ParentLevel, which in turn climbs to [cluster.parent.parent] while it supervises the
// parent, and so on) and feeds it the cluster's aggregate — recomputed at every change of
// the cluster map and every second from the supervisor's usage table. The supervisor sends
// its members the levels above as it knows them (hierarchy::ViewCore), so every node can
// show the tree. Without [cluster.parent] it runs no level above. It carries relayed requests
// (hierarchy::RelayCore) on every level this node holds, its cluster's included. Runs on the
// node's loop thread.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <vector>

#include "base/result.h"
#include "base/time.h"
#include "hierarchy/relay.h"
#include "hierarchy/view.h"
#include "membership/types.h"
#include "node/level_link.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace cohort::node {

class Node;
class ParentLevel;

class HierarchyService {
 public:
  HierarchyService(Node& node, boost::asio::io_context& io);
  ~HierarchyService();
  void Start();

  // The hierarchy as this node sees it (GET /v1/hierarchy, `cohort members --tree`).
  nlohmann::json Document() const;
  // The supervisor tables of every level above the cluster, nearest first (the "levels" of
  // GET /v1/tables): per member, its sub-cluster's figures — the node usage and disk
  // tables aggregated — and the level's sum.
  nlohmann::json LevelTables() const;

  // Where this node stands in the tree, for relayed requests: its path from the root and
  // the levels it holds now.
  hierarchy::Position Position() const;
  // Relay messages: sent to member `to` of `level` (0: this node's cluster), and those
  // that arrive on any level this node holds.
  Status SendRelay(uint8_t level, NodeId to, std::span<const uint8_t> bytes);
  void OnRelay(RelayHandler handler);

 private:
  void FetchUsage();  // the supervisor's usage table, for the aggregate
  void FollowMap();   // after each membership change
  void SendDown();    // as supervisor: the levels above to this cluster's members
  void Send(membership::Outputs& out);
  ParentLevel* Level(size_t level) const;  // the k-th level above, while this node holds it

  Node& node_;
  boost::asio::io_context& io_;
  std::unique_ptr<LevelLink> link_;
  std::unique_ptr<hierarchy::ViewCore> view_;
  std::vector<membership::UsageRow> usage_;
  RelayHandler relay_;
  uint64_t generation_ = 0;  // of the parent level: one per start and stop
  Instant next_usage_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // callbacks hold it weakly
};

}  // namespace cohort::node
