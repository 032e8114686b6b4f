#include "core/text.hpp"

#include <gtest/gtest.h>

namespace vramq::core {
namespace {

TEST(Text, TrimRemovesAsciiWhitespaceAtBothEnds) {
  EXPECT_EQ(trim("  a b\t\r\n"), "a b");
  EXPECT_EQ(trim("\v\f"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
}

TEST(Text, ToLowerIsAscii) {
  EXPECT_EQ(to_lower("GiB Content-Type"), "gib content-type");
  EXPECT_EQ(to_lower("\xC3\x89"), "\xC3\x89");  // bytes above ASCII are left alone
}

}  // namespace
}  // namespace vramq::core
