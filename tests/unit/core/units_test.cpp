#include "core/units.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TEST(ParseSize, Units) {
  EXPECT_EQ(*parse_size_mb("24GiB"), 24576);
  EXPECT_EQ(*parse_size_mb("24gib"), 24576);
  EXPECT_EQ(*parse_size_mb("24GB"), 24576);
  EXPECT_EQ(*parse_size_mb("512MiB"), 512);
  EXPECT_EQ(*parse_size_mb("2048"), 2048);
  EXPECT_EQ(*parse_size_mb("1.5GiB"), 1536);
  EXPECT_EQ(*parse_size_mb(" 1TiB "), 1048576);
}

TEST(ParseSize, Rejects) {
  for (const char* bad : {"", "GiB", "24XB", "-1GiB", "0", "abc", "1e30GiB", "nanGiB"}) {
    auto r = parse_size_mb(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find(bad), std::string::npos) << r.error().message;
    }
  }
}

TEST(ParseDuration, UnitsAndBounds) {
  EXPECT_EQ(*parse_duration_s("7d"), 7 * 86400);
  EXPECT_EQ(*parse_duration_s("12h"), 12 * 3600);
  EXPECT_EQ(*parse_duration_s("30m"), 1800);
  EXPECT_EQ(*parse_duration_s("45s"), 45);
  EXPECT_EQ(*parse_duration_s(" 3600 "), 3600);
  EXPECT_EQ(*parse_duration_s("0"), 0);
  EXPECT_EQ(*parse_duration_s("2D"), 2 * 86400);
  for (const char* bad : {"", "d", "-1d", "1.5h", "7 weeks", "3651d", "99999999999999999999"}) {
    EXPECT_FALSE(parse_duration_s(bad)) << bad;
  }
  EXPECT_NE(parse_duration_s("7w").error().message.find("use s, m, h or d"), std::string::npos);
}

TEST(ParseGpuSpec, Forms) {
  EXPECT_EQ(*parse_gpu_spec("24GiB"), (std::vector<std::int64_t>{24576}));
  EXPECT_EQ(*parse_gpu_spec("2x24GiB"), (std::vector<std::int64_t>{24576, 24576}));
  EXPECT_EQ(*parse_gpu_spec("80GiB,24GiB"), (std::vector<std::int64_t>{81920, 24576}));
  EXPECT_EQ(*parse_gpu_spec("2x8GiB, 16GiB"), (std::vector<std::int64_t>{8192, 8192, 16384}));
}

TEST(ParseGpuSpec, Rejects) {
  for (const char* bad : {"", "0x24GiB", "65x1GiB", "24GiB,", "x24GiB", "2x", "24GiB,,8GiB"}) {
    EXPECT_FALSE(parse_gpu_spec(bad)) << bad;
  }
}

TEST(FormatMb, HumanUnits) {
  EXPECT_EQ(format_mb(512), "512 MiB");
  EXPECT_EQ(format_mb(24576), "24 GiB");
  EXPECT_EQ(format_mb(10000), "10000 MiB");  // exact, not "9.8 GiB"
  EXPECT_EQ(format_mb(1536), "1536 MiB");
  EXPECT_EQ(format_mb(0), "0 MiB");
}

}  // namespace
}  // namespace vramq::core
