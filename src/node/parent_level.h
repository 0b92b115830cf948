// ParentLevel: this daemon's node in a level above its cluster (M14): the parent, run while
// the daemon supervises its own cluster, or a higher level, run while it supervises the
// level below. It is a second, smaller stack on the same loop: a transport bound to the
// level's listen address under the level's key, a membership instance under the level
// below's id there (timings × the level factors), and the representation of the level
// below's aggregate (docs/design/hierarchy.md). A level with a level above it holds a
// LevelLink that runs that one while this one supervises. A successor supervisor starts its own
// with a newer incarnation (wall-clock milliseconds), so the parent sees a new
// representative of the same node, not a failure. Runs on the node's loop thread.
#pragma once

#include <memory>

#include "base/config.h"
#include "base/result.h"
#include "hierarchy/representation.h"
#include "hierarchy/view.h"
#include "membership/core.h"
#include "node/level_link.h"
#include "transport/core.h"

namespace boost::asio {
class io_context;
}

namespace cohort::node {

class ParentLevel {
 public:
  // Runs config.parents[depth]: binds its socket and starts; fails naming the address or
  // the key file.
  // Relay messages that arrive here or on a level above go to `relay`.
  static Result<std::unique_ptr<ParentLevel>> Start(const Config& config, size_t depth,
                                                    boost::asio::io_context& io,
                                                    RelayHandler relay);
  ~ParentLevel();
  // Stops it: no handler of its timer or socket does anything after this. Destroy it later
  // (Dispose), not from inside a handler the same loop pass may still run.
  void Stop();
  // Stops `level` and destroys it once the handlers already queued have run.
  static void Dispose(std::unique_ptr<ParentLevel> level, boost::asio::io_context& io);

  // The aggregate of the level below, which this daemon supervises.
  void SetOwn(const hierarchy::Aggregate& aggregate);

  const membership::MembershipCore& membership() const;
  const transport::TransportCore& transport() const;
  const hierarchy::RepresentationCore& representation() const;
  Incarnation incarnation() const;
  // This level's aggregate, while this node keeps its members' aggregates.
  std::optional<hierarchy::Aggregate> ParentAggregate() const;
  // This level and those above it, nearest first, as this node knows them (what a
  // supervisor below sends its members).
  std::vector<hierarchy::LevelView> Up() const;
  const hierarchy::ViewCore& view() const;
  // A relay message to member `to` of this level.
  Status SendRelay(NodeId to, std::span<const uint8_t> bytes);
  // The link to the level above, when the config names one.
  const LevelLink* above() const;

 private:
  struct Impl;
  explicit ParentLevel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::node
