// Prometheus text exposition (format 0.0.4) as /metrics serves it: each family's HELP and
// TYPE lines, then its samples. One writer, so every component's metrics read the same.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cohort::api {

class MetricsText {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  // A family of one unlabelled sample.
  void Counter(std::string_view name, std::string_view help, uint64_t value);
  void Gauge(std::string_view name, std::string_view help, double value);
  // A family's HELP and TYPE ("counter", "gauge", "histogram"); its samples follow.
  void Family(std::string_view name, std::string_view type, std::string_view help);
  // One sample; label values are escaped as the format asks.
  void Sample(std::string_view name, Labels labels, double value);
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace cohort::api
