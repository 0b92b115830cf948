// Duration and Instant: nanosecond time values passed into every protocol core.
//
// Cores never read a clock; drivers (io/ runtime, sim/ virtual clock) pass `now` in.
// Instant is measured from an arbitrary, driver-chosen epoch and is only compared or
// subtracted. Plain values, thread-compatible.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace cohort {

class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration Nanos(int64_t n) { return Duration(n); }
  static constexpr Duration Micros(int64_t n) { return Duration(n * 1000); }
  static constexpr Duration Millis(int64_t n) { return Duration(n * 1000 * 1000); }
  static constexpr Duration Seconds(int64_t n) { return Duration(n * 1000 * 1000 * 1000); }
  static constexpr Duration Max() { return Duration(INT64_MAX); }

  constexpr int64_t nanos() const { return n_; }
  constexpr int64_t micros() const { return n_ / 1000; }
  constexpr int64_t millis() const { return n_ / 1000000; }
  constexpr double seconds() const { return static_cast<double>(n_) / 1e9; }

  constexpr Duration operator+(Duration o) const { return Duration(n_ + o.n_); }
  constexpr Duration operator-(Duration o) const { return Duration(n_ - o.n_); }
  constexpr Duration operator*(int64_t k) const { return Duration(n_ * k); }
  constexpr Duration operator/(int64_t k) const { return Duration(n_ / k); }
  constexpr auto operator<=>(const Duration&) const = default;

 private:
  constexpr explicit Duration(int64_t n) : n_(n) {}
  int64_t n_ = 0;
};

class Instant {
 public:
  constexpr Instant() = default;
  static constexpr Instant FromNanos(int64_t n) { return Instant(n); }
  static constexpr Instant Max() { return Instant(INT64_MAX); }

  constexpr int64_t nanos() const { return n_; }
  constexpr Instant operator+(Duration d) const { return Instant(n_ + d.nanos()); }
  constexpr Instant operator-(Duration d) const { return Instant(n_ - d.nanos()); }
  constexpr Duration operator-(Instant o) const { return Duration::Nanos(n_ - o.n_); }
  constexpr auto operator<=>(const Instant&) const = default;

 private:
  constexpr explicit Instant(int64_t n) : n_(n) {}
  int64_t n_ = 0;
};

}  // namespace cohort
