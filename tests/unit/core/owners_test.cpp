// The owners file: what it accepts, and every refusal naming its place (core/owners.hpp).
#include "core/owners.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace vramq::core {
namespace {

const std::string kHashA = "sha256:" + std::string(64, 'a');
const std::string kHashB = "sha256:" + std::string(64, 'b');

std::string error_of(std::string_view text) {
  auto o = parse_owners(text);
  return o ? "" : o.error().message;
}

TEST(Owners, AGroupAndItsMembersWithTheirLimits) {
  auto o = parse_owners(fmt::format(R"(
[groups.vision]
quota_mb = 32768
limit_mb = 49152
max_running = 8
[owners.alice]
tokens = ["{}"]
group = "vision"
quota_mb = 16384
limit_mb = 40960
max_running = 4
max_queued = 500
max_priority = 10
weight = 2.5
run_as = "alice"
[owners.root]
role = "admin"
tokens = ["{}"]
)",
                                    kHashA, kHashB));
  ASSERT_TRUE(o) << o.error().message;
  ASSERT_EQ(o->owners.size(), 2U);
  const Owner* alice = o->find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->role, Role::user);  // the default
  EXPECT_EQ(alice->limits.quota_mb, 16384);
  EXPECT_EQ(alice->limits.limit_mb, 40960);
  EXPECT_EQ(alice->limits.max_running, 4);
  EXPECT_EQ(alice->limits.max_queued, 500);
  EXPECT_EQ(alice->limits.max_priority, 10);
  EXPECT_DOUBLE_EQ(alice->limits.weight, 2.5);
  EXPECT_EQ(alice->run_as, "alice");
  ASSERT_NE(o->group_of(*alice), nullptr);
  EXPECT_EQ(o->group_of(*alice)->limits.quota_mb, 32768);
  const Owner* root = o->find("root");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->role, Role::admin);
  EXPECT_FALSE(root->limits.quota_mb);  // no limit of that kind
  EXPECT_EQ(o->group_of(*root), nullptr);
  ASSERT_EQ(o->credentials.size(), 2U);
  for (const Credential& c : o->credentials) {
    EXPECT_EQ(o->owners[c.owner].role, c.role);
    EXPECT_EQ(c.hash, o->owners[c.owner].name == "alice" ? kHashA : kHashB);
  }
}

TEST(Owners, RefusalsNameTheirPlace) {
  struct Case {
    std::string text;
    std::string says;
  };
  std::vector<Case> cases = {
      {"[owners.a]\ntokens = [\"" + kHashA + "\"]\nquta_mb = 1\n",
       "owners.a: unknown key 'quta_mb'"},
      {"[owner.a]\n", "top level: unknown key 'owner'"},
      {"", "names no owner"},
      {"[owners.a]\ntokens = [\"0123456789abcdef-secret\"]\n",
       "owners.a.tokens: token 1 is not a hash"},
      {"[owners.a]\ntokens = [\"" + kHashA + "\"]\n[owners.b]\ntokens = [\"" + kHashA + "\"]\n",
       "owners.b.tokens: token 1 is also a token of owners.a"},
      {"[owners.a]\nrole = \"root\"\n", "owners.a.role: must be \"admin\", \"user\" or \"viewer\""},
      {"[owners.a]\ngroup = \"nope\"\n", "owners.a.group: no group 'nope'"},
      {"[owners.a]\nquota_mb = 2048\nlimit_mb = 1024\n",
       "limit_mb (1024) is below quota_mb (2048)"},
      {"[owners.a]\nquota_mb = 1.5\n", "owners.a.quota_mb: must be an integer"},
      {"[owners.a]\nmax_running = -1\n", "owners.a.max_running: must be from 0"},
      {"[owners.a]\nmax_priority = 2000\n", "owners.a.max_priority: must be from -1000 to 1000"},
      {"[owners.a]\nweight = 0\n", "owners.a.weight: must be a number above 0"},
      {"[owners.a]\nweight = \"2\"\n", "owners.a.weight: must be a number above 0"},
      {"[owners.a]\nrun_as = \"Root User\"\n",
       "owners.a.run_as: 'Root User' is not a Unix user name"},
      {"[owners.\"a b\"]\n", "owners.a b: an owner's name is"},
      {"[groups.g]\nquota_mb = 1000\n[owners.a]\ngroup = \"g\"\nquota_mb = 600\n[owners.b]\n"
       "group = \"g\"\nquota_mb = 600\n",
       "groups.g: its members are guaranteed 1200 MiB together, more than its quota_mb 1000"},
      {"[groups.g]\n[owners.a]\ngroup = \"g\"\nquota_mb = 600\n",
       "owners.a.quota_mb: its group 'g' guarantees nothing"},
      {"[owners.a\n", "owners file: line 1"},
  };
  for (const Case& c : cases) {
    std::string e = error_of(c.text);
    EXPECT_NE(e.find(c.says), std::string::npos) << "for:\n" << c.text << "\ngot: " << e;
    EXPECT_TRUE(e.starts_with("owners file: ")) << e;
  }
}

TEST(Owners, ASecretPastedAsATokenIsNeverQuoted) {
  std::string e = error_of("[owners.a]\ntokens = [\"my-very-secret-token-1234\"]\n");
  EXPECT_FALSE(e.empty());
  EXPECT_EQ(e.find("my-very-secret"), std::string::npos) << e;
}

TEST(Owners, AnOwnerWithoutTokensIsKnownButNobodyCanActAsIt) {
  auto o = parse_owners("[owners.former]\nmax_queued = 0\n");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_NE(o->find("former"), nullptr);
  EXPECT_TRUE(o->credentials.empty());
}

TEST(Owners, TokenHashAndNameShapes) {
  EXPECT_TRUE(is_token_hash(kHashA));
  EXPECT_FALSE(is_token_hash("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(is_token_hash("sha256:" + std::string(64, 'A')));  // lower-case only
  EXPECT_FALSE(is_token_hash("sha1:" + std::string(64, 'a')));
  EXPECT_TRUE(is_owner_name("alice.b-c_d@lab"));
  EXPECT_FALSE(is_owner_name(""));
  EXPECT_FALSE(is_owner_name(std::string(65, 'a')));
  EXPECT_FALSE(is_owner_name("a:b"));
}

}  // namespace
}  // namespace vramq::core
