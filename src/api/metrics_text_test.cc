#include "api/metrics_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace cohort::api {
namespace {

TEST(MetricsText, FamiliesCarryHelpTypeAndSamples) {
  MetricsText t;
  t.Counter("cohort_x_total", "Things.", 18446744073709551615ull);
  t.Gauge("cohort_y", "A level.", 0.25);
  t.Family("cohort_z", "gauge", "By kind.");
  t.Sample("cohort_z", {{"kind", "a\"b\\c\nd"}, {"n", "1"}}, 3);
  EXPECT_EQ(t.Take(),
            "# HELP cohort_x_total Things.\n# TYPE cohort_x_total counter\n"
            "cohort_x_total 18446744073709551615\n"
            "# HELP cohort_y A level.\n# TYPE cohort_y gauge\ncohort_y 0.25\n"
            "# HELP cohort_z By kind.\n# TYPE cohort_z gauge\n"
            "cohort_z{kind=\"a\\\"b\\\\c\\nd\",n=\"1\"} 3\n");
}

TEST(MetricsText, NumbersAsPrometheusParsesThem) {
  auto one = [](double v) {
    MetricsText t;
    t.Sample("m", {}, v);
    std::string s = t.Take();
    return s.substr(2, s.size() - 3);
  };
  EXPECT_EQ(one(0), "0");
  EXPECT_EQ(one(-0.0), "0");
  EXPECT_EQ(one(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(one(1e17), "1e+17");
  EXPECT_EQ(one(0.001341), "0.001341");
  EXPECT_EQ(one(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(one(std::nan("")), "NaN");
}

}  // namespace
}  // namespace cohort::api
