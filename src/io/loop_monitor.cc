#include "io/loop_monitor.h"

#include <time.h>

#include <sstream>

#include "base/log.h"
#include "io/clock.h"

namespace cohort::io {

LoopMonitor::LoopMonitor(boost::asio::io_context& io) : timer_(io) {}

void LoopMonitor::Start() {
  stopped_ = false;
  due_ = SteadyNow() + kPeriod;
  Arm();
}

void LoopMonitor::Stop() {
  stopped_ = true;
  timer_.cancel();
}

namespace {

// CPU time of the calling thread: over a stall, near its length if a handler computed,
// near zero if the loop waited in a system call or for a CPU.
Duration ThreadCpu() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return Duration::Nanos(static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec);
}

}  // namespace

void LoopMonitor::Arm() {
  cpu_at_arm_ = ThreadCpu();
  timer_.expires_after(std::chrono::nanoseconds(kPeriod.nanos()));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    const Instant now = SteadyNow();
    const Duration late = now > due_ ? now - due_ : Duration();
    Record(late);
    if (late >= kLogStall && now - logged_ >= Duration::Seconds(1)) {
      logged_ = now;
      Log(LogLevel::kWarn, "node", "event loop stalled",
          {{"ms", std::to_string(late.millis())},
           {"cpu_ms", std::to_string((ThreadCpu() - cpu_at_arm_).millis())}});
    }
    due_ = now + kPeriod;
    Arm();
  });
}

void LoopMonitor::Record(Duration late) {
  const double s = static_cast<double>(late.nanos()) / 1e9;
  size_t b = 0;
  while (b < kBounds.size() && s > kBounds[b]) ++b;
  ++buckets_[b];
  ++count_;
  sum_s_ += s;
  if (late > longest_) longest_ = late;
}

std::string LoopMonitor::Metrics() const {
  std::ostringstream out;
  out << "# HELP cohort_loop_stall_seconds How late the event loop ran a timer due every "
      << kPeriod.millis() << " ms: the time some handler kept it blocked.\n"
      << "# TYPE cohort_loop_stall_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t b = 0; b < kBounds.size(); ++b) {
    cumulative += buckets_[b];
    out << "cohort_loop_stall_seconds_bucket{le=\"" << kBounds[b] << "\"} " << cumulative << "\n";
  }
  cumulative += buckets_.back();
  out << "cohort_loop_stall_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << "cohort_loop_stall_seconds_sum " << sum_s_ << "\n"
      << "cohort_loop_stall_seconds_count " << count_ << "\n"
      << "# HELP cohort_loop_stall_max_seconds The longest such stall since the daemon started.\n"
      << "# TYPE cohort_loop_stall_max_seconds gauge\n"
      << "cohort_loop_stall_max_seconds " << static_cast<double>(longest_.nanos()) / 1e9 << "\n";
  return out.str();
}

}  // namespace cohort::io
