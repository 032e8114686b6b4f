#include "exec/launch_request.hpp"

#include <gtest/gtest.h>

namespace vramq::exec {
namespace {

using namespace std::string_literals;

// Each string NUL-terminated, one after another (as the wire has them).
std::string nul(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) {
    out += p;
    out += '\0';
  }
  return out;
}

TEST(LaunchRequest, RoundTripsArgumentsAndEnvironmentWithEmptyStrings) {
  LaunchRequest r{.args = {"--job", "7", "", "--program", "/bin/true"},
                  .env = {"PATH=/usr/bin", "EMPTY=", "UTF8=h\xc3\xa9"}};
  std::optional<std::string> text = encode_launch_request(r);
  ASSERT_TRUE(text);
  EXPECT_EQ(decode_launch_request(*text), r);
  LaunchRequest none;
  ASSERT_TRUE(encode_launch_request(none));
  EXPECT_EQ(*encode_launch_request(none), nul({"0", "0"}));
  EXPECT_EQ(decode_launch_request(*encode_launch_request(none)), none);
}

TEST(LaunchRequest, AStringHoldingANulCannotBeSent) {
  EXPECT_FALSE(encode_launch_request({.args = {"a\0b"s}, .env = {}}));
  EXPECT_FALSE(encode_launch_request({.args = {}, .env = {"X=\0"s}}));
}

TEST(LaunchRequest, RefusesWhatDoesNotMatchItsCounts) {
  EXPECT_FALSE(decode_launch_request(""));
  EXPECT_FALSE(decode_launch_request(nul({"1", "0"})));                // the argument is missing
  EXPECT_FALSE(decode_launch_request(nul({"1", "0"}) + "a"));          // not NUL-terminated
  EXPECT_FALSE(decode_launch_request(nul({"1", "0", "a", "b"})));      // one string too many
  EXPECT_FALSE(decode_launch_request(nul({"0", "2", "A=1"})));         // one string too few
  EXPECT_FALSE(decode_launch_request(nul({"x", "0"})));                // not a count
  EXPECT_FALSE(decode_launch_request(nul({"-1", "0"})));               // nor this
  EXPECT_FALSE(decode_launch_request(nul({"", "0"})));                 // nor an empty one
  EXPECT_FALSE(decode_launch_request(nul({"999999999", "0", "a"})));   // more than could follow
  EXPECT_FALSE(decode_launch_request(nul({"4000000000", "0", "a"})));  // a count too long
  EXPECT_FALSE(decode_launch_request(nul({"0"})));                     // no environment count
  EXPECT_TRUE(decode_launch_request(nul({"1", "1", "a", "B=2"})));
}

TEST(LaunchReply, RoundTripsAndRefusesAnythingElse) {
  EXPECT_EQ(decode_launch_reply(encode_launch_reply({.pid = 4242, .error = 0})),
            (LaunchReply{.pid = 4242, .error = 0}));
  EXPECT_EQ(decode_launch_reply(encode_launch_reply({.pid = 0, .error = 11})),
            (LaunchReply{.pid = 0, .error = 11}));
  for (const char* bad : {"", "pid=", "pid=0", "pid=-3", "pid=12x", "errno=0", "errno=99999",
                          "pid=1 ", "PID=1", "pid 1", "pid=99999999999"}) {
    EXPECT_FALSE(decode_launch_reply(bad)) << bad;
  }
}

}  // namespace
}  // namespace vramq::exec
