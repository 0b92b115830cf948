// LoopMonitor: how long the event loop was kept from running a ready handler. A timer due
// every kPeriod fires late by however long some handler blocked the loop (a disk call, a
// long walk, a slow hash); each lateness goes into a histogram, exported as
// cohort_loop_stall_seconds. Membership's period is 100 ms: a stall near it risks false
// failure declarations. Runs on the loop it watches; not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/time.h"
#include "io/asio.h"

namespace cohort::io {

class LoopMonitor {
 public:
  static constexpr Duration kPeriod = Duration::Millis(10);
  // A stall this long is logged too (at most one line a second), so an operator can match
  // it with what the daemon was doing then, with the CPU time the loop used meanwhile
  // (small: it waited in a system call or for a CPU; near the stall: a handler computed).
  static constexpr Duration kLogStall = Duration::Millis(50);
  // Upper bounds of the histogram's buckets, in seconds (a last one, +Inf, is implicit).
  static constexpr std::array<double, 9> kBounds = {0.001, 0.002, 0.005, 0.01, 0.02,
                                                    0.05,  0.1,   0.25,  1.0};

  explicit LoopMonitor(boost::asio::io_context& io);
  void Start();
  void Stop();
  // Records one lateness (the timer calls it; tests may too).
  void Record(Duration late);

  // Prometheus text: the histogram and the longest stall seen.
  std::string Metrics() const;
  Duration longest() const { return longest_; }
  uint64_t count() const { return count_; }

 private:
  void Arm();

  boost::asio::steady_timer timer_;
  Instant due_;
  bool stopped_ = true;
  Instant logged_;
  Duration cpu_at_arm_;  // the loop thread's CPU time when the timer was set
  std::array<uint64_t, kBounds.size() + 1> buckets_{};
  uint64_t count_ = 0;
  double sum_s_ = 0;
  Duration longest_;
};

}  // namespace cohort::io
