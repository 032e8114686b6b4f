// The Prometheus text format as vramq writes it: HELP/TYPE once per family, escaping of label
// values and help text, numbers, and histograms' cumulative buckets. promtool checks whole
// scrapes in the e2e suite.
#include "server/metrics_text.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace vramq::server {
namespace {

TEST(MetricsText, FamiliesSamplesAndEscaping) {
  MetricsText m;
  m.family("vramq_x_total", "counter", "Help with a \\ and a\nnewline");
  m.sample("vramq_x_total", {{"task", "a\"b\\c\nd"}, {"state", ""}}, 3);
  m.sample("vramq_x_total", {}, 0.25);
  EXPECT_EQ(m.text(),
            "# HELP vramq_x_total Help with a \\\\ and a\\nnewline\n"
            "# TYPE vramq_x_total counter\n"
            "vramq_x_total{task=\"a\\\"b\\\\c\\nd\",state=\"\"} 3\n"
            "vramq_x_total 0.25\n");
}

TEST(MetricsText, Numbers) {
  EXPECT_EQ(metric_number(25769803776.0), "25769803776");
  EXPECT_EQ(metric_number(0.003), "0.003");
  EXPECT_EQ(metric_number(-2), "-2");
  EXPECT_EQ(metric_number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(metric_number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(metric_number(std::nan("")), "NaN");
  EXPECT_EQ(metric_number(1e20), "1e+20");
}

TEST(MetricsText, HistogramsAreCumulative) {
  core::Histogram h({1, 0.1, 10});  // any order: sorted
  for (double v : {0.05, 0.1, 0.5, 2.0, 50.0})
    h.observe(v);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 52.65);
  EXPECT_EQ(h.cumulative(), (std::vector<std::uint64_t>{2, 3, 4, 5}));
  MetricsText m;
  m.histogram("t_seconds", {{"task", "a"}}, h);
  EXPECT_EQ(m.text(),
            "t_seconds_bucket{task=\"a\",le=\"0.1\"} 2\n"
            "t_seconds_bucket{task=\"a\",le=\"1\"} 3\n"
            "t_seconds_bucket{task=\"a\",le=\"10\"} 4\n"
            "t_seconds_bucket{task=\"a\",le=\"+Inf\"} 5\n"
            "t_seconds_sum{task=\"a\"} 52.65\n"
            "t_seconds_count{task=\"a\"} 5\n");
  MetricsText bare;
  bare.histogram("u", {}, core::Histogram({1}));
  EXPECT_EQ(bare.text(), "u_bucket{le=\"1\"} 0\nu_bucket{le=\"+Inf\"} 0\nu_sum 0\nu_count 0\n");
}

}  // namespace
}  // namespace vramq::server
