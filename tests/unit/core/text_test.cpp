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

TEST(Text, PrintablePrefixHasNoControlCharacters) {
  EXPECT_EQ(printable_prefix("a\x1b]0;title\x07"
                             "b\rc\nd\x7f",
                             100),
            "a?]0;title?b?c?d?");
  EXPECT_EQ(printable_prefix("x\xc2\x9b"
                             "2Jy \xc3\xa9",
                             100),
            "x?2Jy \xc3\xa9")
      << "C1 CSI";
  EXPECT_EQ(printable_prefix("abc", 2), "ab");
}

TEST(Text, Utf8PrefixKeepsValidTextWithinTheLimit) {
  EXPECT_EQ(utf8_prefix("hello", 3), "hel");
  EXPECT_EQ(utf8_prefix("h\xc3\xa9llo", 2), "h") << "no half character";
  EXPECT_EQ(utf8_prefix("h\xc3\xa9llo", 3), "h\xc3\xa9");
  EXPECT_EQ(utf8_prefix("a\xff\xfe"
                        "b",
                        10),
            "a??b");
  EXPECT_EQ(utf8_prefix("\xc0\xaf", 10), "??") << "overlong";
  EXPECT_EQ(utf8_prefix("\xed\xa0\x80", 10), "???") << "surrogate";
  EXPECT_EQ(utf8_prefix("\xf0\x9f\x98\x80!", 10), "\xf0\x9f\x98\x80!");
  EXPECT_EQ(utf8_prefix("\xe2\x82", 10), "??") << "cut short";
}

}  // namespace
}  // namespace vramq::core
