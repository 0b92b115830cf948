// ParentLevel: this daemon's node in its cluster's parent cluster (M14), run while the
// daemon supervises its own cluster. It is a second, smaller stack on the same loop: a
// transport bound to [cluster.parent] listen under the parent's key, a membership instance
// under the cluster's parent-level id (timings × level_factor), and the representation of
// the cluster's aggregate (docs/design/hierarchy.md). A successor supervisor starts its own
// with a newer incarnation (wall-clock milliseconds), so the parent sees a new
// representative of the same node, not a failure. Runs on the node's loop thread.
#pragma once

#include <memory>

#include "base/config.h"
#include "base/result.h"
#include "hierarchy/representation.h"
#include "membership/core.h"
#include "transport/core.h"

namespace boost::asio {
class io_context;
}

namespace cohort::node {

class ParentLevel {
 public:
  // Binds the parent-level socket and starts; fails naming the address or the key file.
  static Result<std::unique_ptr<ParentLevel>> Start(const Config& config,
                                                    boost::asio::io_context& io);
  ~ParentLevel();
  // Stops it: no handler of its timer or socket does anything after this. Destroy it later
  // (Dispose), not from inside a handler the same loop pass may still run.
  void Stop();
  // Stops `level` and destroys it once the handlers already queued have run.
  static void Dispose(std::unique_ptr<ParentLevel> level, boost::asio::io_context& io);

  // The aggregate of the cluster this daemon supervises.
  void SetOwn(const hierarchy::Aggregate& aggregate);

  const membership::MembershipCore& membership() const;
  const transport::TransportCore& transport() const;
  const hierarchy::RepresentationCore& representation() const;
  Incarnation incarnation() const;
  // The parent cluster's aggregate, while this node keeps its members' aggregates.
  std::optional<hierarchy::Aggregate> ParentAggregate() const;

 private:
  struct Impl;
  explicit ParentLevel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cohort::node
