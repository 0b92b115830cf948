// LivenessLog: the node's recent path and adapter changes (L1), numbered, for clients that
// follow them: by long poll (`cohort liveness --watch`, GET /v1/liveness/changes; the last
// kKept changes are kept, a client that falls further behind is told so and reads the
// matrix again) or as they are added (GET /v1/liveness/watch). Runs on the node's loop
// thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "base/time.h"
#include "liveness/types.h"

namespace boost::asio {
class io_context;
}

namespace cohort::node {

struct LivenessChange {
  uint64_t seq = 0;
  uint64_t wall_ms = 0;
  liveness::Output change;  // PathChanged or AdapterChanged
};

struct LivenessChanges {
  std::vector<LivenessChange> changes;
  uint64_t seq = 0;  // the newest change's number (0: none yet)
  // Changes after `after` were dropped before this client read them, or `after` is ahead of
  // this log (the node started again): the client reads the matrix again.
  bool missed = false;
};

class LivenessLog {
 public:
  static constexpr size_t kKept = 4096;

  explicit LivenessLog(boost::asio::io_context& loop);
  ~LivenessLog();
  void Add(const liveness::Output& change);
  // The changes numbered after `after`, at once if there are any, else when the next comes
  // or `timeout` passes (then none).
  void Wait(uint64_t after, Duration timeout, std::function<void(LivenessChanges)> done);
  uint64_t seq() const { return next_seq_ - 1; }
  // `follower` gets every change added from now on, numbered, until Unfollow(the id).
  uint64_t Follow(std::function<void(const LivenessChange&)> follower);
  void Unfollow(uint64_t id) { followers_.erase(id); }

 private:
  struct Waiter;
  LivenessChanges Since(uint64_t after) const;

  boost::asio::io_context& loop_;
  std::deque<LivenessChange> kept_;
  uint64_t next_seq_ = 1;
  std::map<uint64_t, std::shared_ptr<Waiter>> waiters_;
  uint64_t next_waiter_ = 1;
  std::map<uint64_t, std::function<void(const LivenessChange&)>> followers_;
  uint64_t next_follower_ = 1;
};

}  // namespace cohort::node
