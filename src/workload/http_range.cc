#include "workload/http_range.h"

#include <optional>

#include "base/text.h"

namespace cohort::workload {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool UnitIsBytes(std::string_view unit) {
  if (unit.size() != 5) return false;
  constexpr std::string_view kBytes = "bytes";
  for (size_t i = 0; i < 5; ++i) {
    const char c = unit[i] >= 'A' && unit[i] <= 'Z' ? static_cast<char>(unit[i] + 32) : unit[i];
    if (c != kBytes[i]) return false;
  }
  return true;
}

}  // namespace

ByteRange ParseRange(std::string_view header, uint64_t size) {
  using Kind = ByteRange::Kind;
  const ByteRange whole{};
  const ByteRange unsatisfiable{Kind::kUnsatisfiable};
  header = Trim(header);
  const size_t eq = header.find('=');
  if (eq == std::string_view::npos || !UnitIsBytes(Trim(header.substr(0, eq)))) return whole;
  const std::string_view spec = Trim(header.substr(eq + 1));
  if (spec.find(',') != std::string_view::npos) return whole;  // several ranges: not served
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view from = Trim(spec.substr(0, dash));
  const std::string_view to = Trim(spec.substr(dash + 1));
  if (from.empty()) {  // the suffix form: the last n bytes
    const auto n = ParseUnsigned(to);
    if (!n) return whole;
    if (*n == 0 || size == 0) return unsatisfiable;
    const uint64_t count = *n < size ? *n : size;
    return ByteRange{Kind::kPartial, size - count, size - 1};
  }
  const auto first = ParseUnsigned(from);
  if (!first) return whole;
  std::optional<uint64_t> last;
  if (!to.empty()) {
    last = ParseUnsigned(to);
    if (!last || *last < *first) return whole;  // invalid: ignored, as the RFC says
  }
  if (*first >= size) return unsatisfiable;
  const uint64_t end = last && *last < size - 1 ? *last : size - 1;
  return ByteRange{Kind::kPartial, *first, end};
}

}  // namespace cohort::workload
