// HierarchyService: the daemon's part of the hierarchy (M14). With [cluster.parent] set, the
// node that supervises its cluster runs the cluster's node in the parent (ParentLevel) and
// feeds it the cluster's aggregate — recomputed at every change of the cluster map and every
// second from the supervisor's usage table; a node that stops supervising stops it. Without
// [cluster.parent] it does nothing. Runs on the node's loop thread.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"
#include "membership/types.h"

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

 private:
  void Follow();  // after each membership change
  void Tick();    // every 250 ms
  void StartParent(Instant now);
  void StopParent(const char* why);
  bool Settled() const;
  void Aggregate();   // the cluster's aggregate to the parent level
  void FetchUsage();  // the supervisor's usage table, for the aggregate

  Node& node_;
  boost::asio::io_context& io_;
  std::unique_ptr<ParentLevel> parent_;
  struct Timer;  // a steady_timer, kept out of this header
  std::unique_ptr<Timer> timer_;
  std::vector<membership::UsageRow> usage_;
  std::string last_error_;   // why the parent level could not start, if it could not
  uint64_t generation_ = 0;  // of the parent level: one per start and stop
  Instant supervising_since_ = Instant::Max();
  Instant unsettled_since_ = Instant::Max();
  Instant next_usage_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // callbacks hold it weakly
};

}  // namespace cohort::node
