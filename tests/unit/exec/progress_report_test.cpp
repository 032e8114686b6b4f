// The explicit progress channel (VRAMQ_PROGRESS_FILE): the newest line that is a report counts;
// anything malformed is skipped, never an error.
#include "exec/progress_report.hpp"

#include <gtest/gtest.h>

namespace vramq::exec {
namespace {

TEST(ProgressReport, TheNewestReport) {
  auto p = parse_progress_report(
      "{\"fraction\": 0.1, \"message\": \"loading\"}\n"
      "{\"fraction\": 0.4, \"message\": \"marching cubes\"}\n");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p->fraction, 0.4);
  EXPECT_EQ(p->message, "marching cubes");
}

TEST(ProgressReport, CurrentAndTotalGiveTheFraction) {
  auto p = parse_progress_report(
      "{\"current\": 3, \"total\": 12, \"unit\": \"img\", \"eta_s\": 9.5, \"extra\": [1]}");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p->fraction, 0.25);
  EXPECT_EQ(p->unit, "img");
  EXPECT_DOUBLE_EQ(*p->eta_s, 9.5);
}

TEST(ProgressReport, MalformedLinesAreSkippedForTheOneBefore) {
  auto p = parse_progress_report(
      "{\"fraction\": 0.5}\n"
      "{\"fraction\": 1.5}\n"         // out of range
      "{\"fraction\": \"half\"}\n"    // not a number
      "{\"current\": -1}\n"           // negative
      "[0.9]\n"                       // not an object
      "{\"other\": 1}\n"              // says nothing
      "{\"fraction\": 0.9, \"mess");  // being written
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(*p->fraction, 0.5);
}

TEST(ProgressReport, NothingAtAll) {
  EXPECT_FALSE(parse_progress_report(""));
  EXPECT_FALSE(parse_progress_report("\n\n"));
  EXPECT_FALSE(parse_progress_report("not json\n"));
  EXPECT_FALSE(parse_progress_report(std::string(100000, '{')));
}

TEST(ProgressReport, MessagesAreBoundedAndValidText) {
  auto p = parse_progress_report("{\"message\": \"" + std::string(1000, 'm') + "\"}");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->message.size(), core::kProgressMessageBytes);
  EXPECT_FALSE(p->fraction);
}

}  // namespace
}  // namespace vramq::exec
