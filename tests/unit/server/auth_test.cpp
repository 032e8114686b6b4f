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
  EXPECT_EQ((*t)[1].name, "token-2");  // unnamed tokens are told apart by their place
  EXPECT_FALSE((*t)[0].admin);
}

TEST(Tokens, AdminRole) {
  auto t = parse_tokens("0123456789abcdef:root:admin\nfedcba9876543210:bob\n");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE((*t)[0].admin);
  EXPECT_FALSE((*t)[1].admin);
  auto bad = parse_tokens("0123456789abcdef:root:superuser\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'superuser'"), std::string::npos);
}

TEST(Tokens, RejectsShortAndEmpty) {
  EXPECT_FALSE(parse_tokens("short\n"));
  EXPECT_FALSE(parse_tokens("# nothing\n"));
}

TEST(Tokens, Authenticate) {
  auto t = *parse_tokens("0123456789abcdef:alice\nfedcba9876543210\n");
  EXPECT_EQ(authenticate("Bearer 0123456789abcdef", t)->name, "alice");
  EXPECT_FALSE(authenticate("Bearer 0123456789abcdef", t)->admin);
  EXPECT_EQ(authenticate("Bearer fedcba9876543210", t)->name, "token-2");
  EXPECT_FALSE(authenticate("Bearer 0123456789abcdeg", t));
  EXPECT_FALSE(authenticate("Bearer 0123456789abcde", t));
  EXPECT_FALSE(authenticate("Bearer 0123456789abcdef0", t));
  EXPECT_FALSE(authenticate("Basic 0123456789abcdef", t));
  EXPECT_FALSE(authenticate("", t));
  EXPECT_FALSE(authenticate("Bearer ", t));
}

}  // namespace
}  // namespace vramq::server
