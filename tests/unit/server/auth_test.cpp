#include "server/auth.hpp"

#include <fmt/format.h>
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
  auto t = owners_from_tokens(*parse_tokens("0123456789abcdef:alice\nfedcba9876543210\n"));
  EXPECT_EQ(authenticate("Bearer 0123456789abcdef", t)->name, "alice");
  EXPECT_EQ(authenticate("Bearer 0123456789abcdef", t)->role, core::Role::user);
  EXPECT_EQ(authenticate("Bearer fedcba9876543210", t)->name, "token-2");
  EXPECT_FALSE(authenticate("Bearer 0123456789abcdeg", t));
  EXPECT_FALSE(authenticate("Bearer 0123456789abcde", t));
  EXPECT_FALSE(authenticate("Bearer 0123456789abcdef0", t));
  EXPECT_FALSE(authenticate("Basic 0123456789abcdef", t));
  EXPECT_FALSE(authenticate("", t));
  EXPECT_FALSE(authenticate("Bearer ", t));
}

TEST(Tokens, HashIsSha256OfTheSecret) {
  // FIPS 180-2's example: SHA-256("abc").
  EXPECT_EQ(token_hash("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(core::is_token_hash(token_hash("any secret at all")));
}

TEST(Tokens, TokenFileMapsOntoOwnersKeepingOnlyHashes) {
  auto o = owners_from_tokens(
      *parse_tokens("0123456789abcdef:ops:admin\nfedcba9876543210:ops\naaaaaaaaaaaaaaaa:bob\n"));
  ASSERT_EQ(o.owners.size(), 2u);  // one owner per name
  EXPECT_EQ(o.owners[0].name, "ops");
  EXPECT_EQ(o.owners[0].role, core::Role::admin);
  ASSERT_EQ(o.credentials.size(), 3u);
  for (const core::Credential& c : o.credentials) {
    EXPECT_TRUE(core::is_token_hash(c.hash)) << c.hash;
    EXPECT_EQ(c.hash.find("0123456789abcdef"), std::string::npos);
  }
  // Each token keeps the role of its own line: the second ops token is no admin's.
  EXPECT_EQ(authenticate("Bearer 0123456789abcdef", o)->role, core::Role::admin);
  EXPECT_EQ(authenticate("Bearer fedcba9876543210", o)->role, core::Role::user);
  EXPECT_EQ(authenticate("Bearer fedcba9876543210", o)->name, "ops");
  EXPECT_EQ(authenticate("Bearer aaaaaaaaaaaaaaaa", o)->name, "bob");
}

TEST(Tokens, OwnersFileCredentialsCarryTheOwnersRole) {
  auto o =
      core::parse_owners(fmt::format(R"(
[owners.vera]
role = "viewer"
tokens = ["{}"]
[owners.ann]
tokens = ["{}", "{}"]
)",
                                     token_hash("vera-secret-0001"), token_hash("ann-secret-00001"),
                                     token_hash("ann-secret-00002")));
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(authenticate("Bearer vera-secret-0001", *o)->role, core::Role::viewer);
  EXPECT_EQ(authenticate("Bearer ann-secret-00002", *o)->name, "ann");
  EXPECT_EQ(authenticate("Bearer ann-secret-00002", *o)->role, core::Role::user);
  // The hash itself is not a token.
  EXPECT_FALSE(authenticate("Bearer " + token_hash("vera-secret-0001"), *o));
}

}  // namespace
}  // namespace vramq::server
