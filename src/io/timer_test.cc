#include "io/timer.h"

#include <gtest/gtest.h>

#include <memory>

#include "io/asio.h"
#include "io/clock.h"

namespace cohort::io {
namespace {

// Both timers expire before the loop runs, so asio queues both completions in one pass:
// whatever the first callback does to the second, the second's handler is already queued.
TEST(TimerTest, BareAsioRunsACancelledHandlerQueuedInTheSamePass) {
  boost::asio::io_context loop;
  boost::asio::steady_timer first(loop), second(loop);
  bool second_ran_with_success = false;
  first.expires_after(std::chrono::milliseconds(0));
  second.expires_after(std::chrono::milliseconds(0));
  first.async_wait([&](const boost::system::error_code&) { second.cancel(); });
  second.async_wait([&](const boost::system::error_code& ec) {
    if (!ec) second_ran_with_success = true;
  });
  loop.run_for(std::chrono::seconds(5));
  // The hazard Timer exists for: cancel() came too late to stop it.
  EXPECT_TRUE(second_ran_with_success);
}

TEST(TimerTest, ACancelledCallbackQueuedInTheSamePassNeverRuns) {
  boost::asio::io_context loop;
  Timer first(loop), second(loop);
  bool second_ran = false;
  first.After(Duration(), [&] { second.Cancel(); });
  second.After(Duration(), [&] { second_ran = true; });
  loop.run_for(std::chrono::seconds(5));
  EXPECT_FALSE(second_ran);
  EXPECT_FALSE(second.pending());
}

TEST(TimerTest, ATimerDestroyedByAnotherCallbackInTheSamePassNeverRuns) {
  struct Owner {
    explicit Owner(boost::asio::io_context& io) : timer(io) {}
    Timer timer;
    int fired = 0;
  };
  boost::asio::io_context loop;
  Timer first(loop);
  auto owner = std::make_unique<Owner>(loop);
  int* leaked_count = nullptr;
  first.After(Duration(), [&] { owner.reset(); });
  owner->timer.After(Duration(), [o = owner.get(), &leaked_count] {
    ++o->fired;  // freed memory, were it to run (AddressSanitizer would say so)
    leaked_count = &o->fired;
  });
  loop.run_for(std::chrono::seconds(5));
  EXPECT_EQ(owner, nullptr);
  EXPECT_EQ(leaked_count, nullptr);
}

TEST(TimerTest, ArmingAgainReplacesThePendingCallback) {
  boost::asio::io_context loop;
  Timer timer(loop);
  int first = 0, second = 0;
  timer.After(Duration(), [&] { ++first; });
  timer.After(Duration::Millis(1), [&] { ++second; });
  loop.run_for(std::chrono::seconds(5));
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
}

TEST(TimerTest, RunsLaterNeverInsideTheCallAndMayRearmItself) {
  boost::asio::io_context loop;
  Timer timer(loop);
  int runs = 0;
  std::function<void()> tick = [&] {
    if (++runs < 3) timer.After(Duration::Millis(1), tick);
  };
  const Instant start = SteadyNow();
  timer.At(start + Duration::Millis(5), tick);
  EXPECT_EQ(runs, 0);
  EXPECT_TRUE(timer.pending());
  loop.run_for(std::chrono::seconds(5));
  EXPECT_EQ(runs, 3);
  EXPECT_GE(SteadyNow() - start, Duration::Millis(5));
  EXPECT_FALSE(timer.pending());
}

TEST(TimerTest, AtTheEndOfTimeCancels) {
  boost::asio::io_context loop;
  Timer timer(loop);
  bool ran = false;
  timer.After(Duration(), [&] { ran = true; });
  timer.At(Instant::Max(), [&] { ran = true; });
  EXPECT_FALSE(timer.pending());
  loop.run_for(std::chrono::seconds(5));
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace cohort::io
