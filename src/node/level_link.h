// LevelLink: one level of a daemon's climb up the hierarchy (M14). It watches a level's
// membership — the daemon's own cluster, or a parent level this daemon holds — and while
// that membership supervises, runs the node that stands for it one level up
// (ParentLevel, config.parents[depth]), fed the level's aggregate. A level that stops
// supervising stops the one above; a parent level that itself supervises and has a parent
// of its own holds a LevelLink in turn, so the chain goes as high as the config names.
// Runs on the node's loop thread.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>

#include "base/config.h"
#include "base/time.h"
#include "hierarchy/aggregate.h"
#include "hierarchy/messages.h"
#include "io/timer.h"
#include "membership/core.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace cohort::node {

class ParentLevel;

// A relay message that arrived on `level` (1: the parent) from node `from` of that level.
using RelayHandler = std::function<void(uint8_t level, NodeId from, std::span<const uint8_t>)>;

class LevelLink {
 public:
  // What the link reads from the level below it.
  struct Below {
    std::function<const membership::MembershipCore&()> membership;
    std::function<hierarchy::Aggregate()> aggregate;
    Duration notify;  // the level below's notification time
    // This link's level and those above it as the level below's supervisor sent them
    // (empty: none sent), for the levels this node does not hold.
    std::function<std::span<const hierarchy::LevelView>()> seen;
    // Relayed requests (hierarchy::RelayCore) that reach this link's level or one above.
    RelayHandler relay;
  };
  LevelLink(const Config& config, size_t depth, Below below, boost::asio::io_context& io);
  ~LevelLink();
  LevelLink(const LevelLink&) = delete;
  LevelLink& operator=(const LevelLink&) = delete;

  void Start();     // looks at once, then every 250 ms
  void Follow();    // after each membership change below
  void Refresh();   // the aggregate below may have changed
  void Shutdown();  // stops the level above for good; nothing runs after it

  // Called when the level above starts or stops, and on every tick.
  std::function<void()> on_level_change;
  std::function<void(Instant)> on_tick;

  ParentLevel* level() const { return level_.get(); }
  // This level as this node sees it, with the levels above it nested under "parent".
  nlohmann::json Document() const;
  // A level this node does not hold, and every level above it, with what `seen` (from
  // this level up) says of them.
  static nlohmann::json Unheld(const Config& config, size_t depth, NodeId held_by,
                               std::span<const hierarchy::LevelView> seen, size_t index);

 private:
  void Tick();
  void StartLevel();
  void StopLevel(const char* why);
  bool Settled(Instant now) const;
  Duration Notify() const;  // this level's notification time

  const Config& config_;
  size_t depth_;
  Below below_;
  boost::asio::io_context& io_;
  std::unique_ptr<ParentLevel> level_;
  io::Timer timer_;
  std::string last_error_;  // why the level could not start, if it could not
  Instant supervising_since_ = Instant::Max();
  Instant unsettled_since_ = Instant::Max();
  bool shut_down_ = false;
};

// The product of the level factors up to and including config.parents[depth]: that level's
// timings are the cluster's × it.
uint32_t LevelFactor(const Config& config, size_t depth);

// An aggregate as GET /v1/hierarchy shows it.
nlohmann::json AggregateJson(const hierarchy::Aggregate& aggregate);

}  // namespace cohort::node
