#include "server/auth.hpp"

#include <gtest/gtest.h>

namespace vramq::server {
namespace {

TEST(Tokens, ParseWithNamesCommentsAndBlankLines) {
  auto t = parse_tokens("# ops\n\n0123456789abcdef:alice\r\nfedcba9876543210\n");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].secret, "0123456789abcdef");
  EXPECT_EQ((*t)[0].name, "alice");
  EXPECT_EQ((*t)[1].name, "");
}

TEST(Tokens, RejectsShortAndEmpty) {
  EXPECT_FALSE(parse_tokens("short\n"));
  EXPECT_FALSE(parse_tokens("# nothing\n"));
}

TEST(Tokens, Authenticate) {
  auto t = *parse_tokens("0123456789abcdef:alice\nfedcba9876543210\n");
  EXPECT_EQ(authenticate("Bearer 0123456789abcdef", t), "alice");
  EXPECT_EQ(authenticate("Bearer fedcba9876543210", t), "token");
  EXPECT_FALSE(authenticate("Bearer 0123456789abcdeg", t));
  EXPECT_FALSE(authenticate("Bearer 0123456789abcde", t));
  EXPECT_FALSE(authenticate("Bearer 0123456789abcdef0", t));
  EXPECT_FALSE(authenticate("Basic 0123456789abcdef", t));
  EXPECT_FALSE(authenticate("", t));
  EXPECT_FALSE(authenticate("Bearer ", t));
}

}  // namespace
}  // namespace vramq::server
