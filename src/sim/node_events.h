// NodeEvents: a simulation's queue of what happens to its nodes on the virtual clock — a
// node's staggered start, its core's timer, a message arriving. Events due at one instant
// come out in the order they were scheduled, so a seed replays exactly. A timer carries the
// node's timer generation: the simulation bumps it when it re-arms or crashes the node, and
// a timer whose generation is no longer the node's is stale.
#pragma once

#include <algorithm>
#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "base/time.h"

namespace cohort::sim {

template <typename Message>
class NodeEvents {
 public:
  enum class Kind : uint8_t { kStart, kTimer, kMessage };
  struct Event {
    Instant at;
    Kind kind = Kind::kStart;
    NodeId to = kNoNode;
    NodeId from = kNoNode;    // the sender of a message
    uint64_t generation = 0;  // of a timer
    Message message{};
  };

  void Start(Instant at, NodeId to) { Push(Event{at, Kind::kStart, to}); }
  void Timer(Instant at, NodeId to, uint64_t generation) {
    Push(Event{at, Kind::kTimer, to, kNoNode, generation});
  }
  void Send(Instant at, NodeId to, NodeId from, Message message) {
    Push(Event{at, Kind::kMessage, to, from, 0, std::move(message)});
  }
  // Puts `e` back to happen at `at`, after everything already due then.
  void Postpone(Event e, Instant at) {
    e.at = at;
    Push(std::move(e));
  }

  // Runs the events in order, `now` following them, until `done()` holds — asked every
  // `step` of virtual time — or `limit` has passed; says whether it held.
  template <typename Done, typename OnEvent>
  bool RunUntil(Instant& now, Done done, Duration limit, Duration step, OnEvent on_event) {
    const Instant deadline = now + limit;
    Instant next_check = now;
    for (;;) {
      if (now >= next_check) {
        if (done()) return true;
        next_check = now + step;
      }
      if (now >= deadline) return done();
      const Instant until = std::min(next_check, deadline);
      while (!empty() && next_at() <= until) {
        const Event e = Pop();
        now = std::max(now, e.at);
        on_event(e);
      }
      now = until;
    }
  }

  bool empty() const { return queue_.empty(); }
  Instant next_at() const { return queue_.top().event.at; }
  Event Pop() {
    Event e = queue_.top().event;
    queue_.pop();
    return e;
  }

 private:
  struct Entry {
    Event event;
    uint64_t order;
    bool operator>(const Entry& o) const {
      return event.at != o.event.at ? event.at > o.event.at : order > o.order;
    }
  };
  void Push(Event e) { queue_.push(Entry{std::move(e), order_++}); }

  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> queue_;
  uint64_t order_ = 0;
};

}  // namespace cohort::sim
