#include "io/timer.h"

#include <algorithm>

#include "io/asio.h"
#include "io/clock.h"

namespace cohort::io {

struct Timer::State {
  explicit State(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  // Bumped by every arm and cancel: a completion that names an older one is stale.
  uint64_t generation = 0;
  std::function<void()> fn;
};

Timer::Timer(boost::asio::io_context& io) : state_(std::make_shared<State>(io)) {}

Timer::~Timer() { Cancel(); }

void Timer::After(Duration wait, std::function<void()> fn) {
  State& s = *state_;
  const uint64_t armed = ++s.generation;
  s.fn = std::move(fn);
  s.timer.expires_after(std::chrono::nanoseconds(std::max<int64_t>(0, wait.nanos())));
  s.timer.async_wait(
      [weak = std::weak_ptr<State>(state_), armed](const boost::system::error_code& ec) {
        const std::shared_ptr<State> alive = weak.lock();
        if (ec || alive == nullptr || alive->generation != armed || !alive->fn) return;
        // Moved out first: the callback may re-arm this timer or destroy its owner.
        auto run = std::exchange(alive->fn, nullptr);
        run();
      });
}

void Timer::At(Instant when, std::function<void()> fn) {
  if (when == Instant::Max()) return Cancel();
  After(when - SteadyNow(), std::move(fn));
}

void Timer::Cancel() {
  ++state_->generation;
  state_->fn = nullptr;
  state_->timer.cancel();
}

bool Timer::pending() const { return static_cast<bool>(state_->fn); }

}  // namespace cohort::io
