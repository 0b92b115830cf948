#include "api/metrics_text.h"

#include <cmath>
#include <cstdio>

namespace cohort::api {
namespace {

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  // Whole numbers print as integers while a double holds them exactly; others (and larger
  // ones, which Prometheus keeps as doubles anyway) with every significant digit.
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v == 0 ? 0.0 : v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
  }
  return buf;
}

}  // namespace

void MetricsText::Family(std::string_view name, std::string_view type, std::string_view help) {
  text_.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  text_.append(name).append(" ").append(type).append("\n");
}

void MetricsText::Counter(std::string_view name, std::string_view help, uint64_t value) {
  Family(name, "counter", help);
  text_.append(name).append(" ").append(std::to_string(value)).append("\n");
}

void MetricsText::Gauge(std::string_view name, std::string_view help, double value) {
  Family(name, "gauge", help);
  Sample(name, {}, value);
}

void MetricsText::Sample(std::string_view name, Labels labels, double value) {
  text_.append(name);
  if (labels.size() != 0) {
    text_.append("{");
    bool first = true;
    for (const auto& [key, v] : labels) {
      text_.append(first ? "" : ",").append(key).append("=\"");
      for (char c : v) {
        if (c == '\\' || c == '"') text_.push_back('\\');
        if (c == '\n') {
          text_.append("\\n");
          continue;
        }
        text_.push_back(c);
      }
      text_.append("\"");
      first = false;
    }
    text_.append("}");
  }
  text_.append(" ").append(Number(value)).append("\n");
}

}  // namespace cohort::api
