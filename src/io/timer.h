// Timer: a one-shot callback on the event loop, after a wait or at an instant. What a bare
// steady_timer does not promise: once Cancel() returns, or the Timer is destroyed, or the
// callback is replaced, the old callback never runs — not even when its expiry was already
// queued in this pass of the loop (asio then calls the handler with *success*, and a
// handler holding `this` of a destroyed owner reads freed memory). An owner that is made
// and destroyed while the loop runs (a registry server, a level above) needs exactly that.
// Runs on the loop it was made with; not thread-safe.
#pragma once

#include <functional>
#include <memory>

#include "base/time.h"

namespace boost::asio {
class io_context;
}

namespace cohort::io {

class Timer {
 public:
  explicit Timer(boost::asio::io_context& io);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Arms the timer, replacing a pending callback. A wait of zero or less runs `fn` in a later
  // pass of the loop, never inside this call.
  void After(Duration wait, std::function<void()> fn);
  // The same at a monotonic instant (io::SteadyNow's clock); Instant::Max() cancels.
  void At(Instant when, std::function<void()> fn);
  void Cancel();
  bool pending() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace cohort::io
