// The pure rules of the HTTP edge: RFC 9112 framing, connection and body accounting, the accept
// back-off, and the caps on requests held open.
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <string_view>
#include <vector>

#include "server/accept_backoff.hpp"
#include "server/connection_limits.hpp"
#include "server/framing.hpp"
#include "server/held_requests.hpp"

namespace vramq::server {
namespace {

using boost::asio::ip::make_address;

TEST(Framing, HeaderBlockEndsAfterTheEmptyLine) {
  EXPECT_EQ(header_block_end("GET / HTTP/1.1\r\nHost: x\r\n"), std::nullopt);
  EXPECT_EQ(header_block_end("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 27u);
  EXPECT_EQ(header_block_end("GET / HTTP/1.1\r\n\r\nBODY"), 18u);
}

TEST(Framing, ObsFoldIsRefused) {
  EXPECT_EQ(folded_header("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\r\n"), std::nullopt);
  EXPECT_TRUE(folded_header("GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n"));
  EXPECT_TRUE(folded_header("GET / HTTP/1.1\r\nX-A: b\r\n\tc\r\n\r\n"));
  // A space inside a value is no fold.
  EXPECT_EQ(folded_header("GET / HTTP/1.1\r\nX-A: b c\r\n\r\n"), std::nullopt);
}

std::optional<std::string> te(std::vector<std::string_view> values, bool length = false,
                              unsigned version = 11) {
  return transfer_encoding_error(values, length, version);
}

TEST(Framing, OnlyExactlyChunkedIsAccepted) {
  EXPECT_EQ(te({}), std::nullopt);
  EXPECT_EQ(te({}, true), std::nullopt);
  EXPECT_EQ(te({"chunked"}), std::nullopt);
  EXPECT_EQ(te({"Chunked "}), std::nullopt);
  for (std::string_view bad :
       {"chunked, identity", "gzip", "xchunked", "identity", "gzip, chunked", "chunked;q=1", ""}) {
    auto why = te({bad});
    ASSERT_TRUE(why) << bad;
    EXPECT_NE(why->find("only transfer coding accepted is 'chunked'"), std::string::npos) << *why;
  }
  EXPECT_TRUE(te({"chunked", "chunked"}));
  EXPECT_TRUE(te({"chunked"}, true));
  EXPECT_TRUE(te({"chunked"}, false, 10));
}

TEST(ConnectionLimits, ClientKeyGroupsIpv6By64) {
  EXPECT_EQ(client_key(make_address("10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(client_key(make_address("::ffff:10.1.2.3")), "10.1.2.3");
  EXPECT_EQ(client_key(make_address("2001:db8:1:2:aaaa::1")),
            client_key(make_address("2001:db8:1:2:bbbb::7")));
  EXPECT_NE(client_key(make_address("2001:db8:1:2::1")),
            client_key(make_address("2001:db8:1:3::1")));
}

TEST(ConnectionLimits, CapsInAllAndPerClient) {
  ConnectionTable t(3, 2);
  EXPECT_EQ(t.admit("a"), ConnectionRefusal::none);
  EXPECT_EQ(t.admit("a"), ConnectionRefusal::none);
  EXPECT_EQ(t.admit("a"), ConnectionRefusal::client_full);
  EXPECT_EQ(t.admit("b"), ConnectionRefusal::none);
  EXPECT_EQ(t.admit("c"), ConnectionRefusal::server_full);
  EXPECT_EQ(t.total(), 3u);
  t.release("a");
  EXPECT_EQ(t.of("a"), 1u);
  EXPECT_EQ(t.admit("c"), ConnectionRefusal::none);
  t.release("zzz");  // never admitted: changes nothing
  EXPECT_EQ(t.total(), 3u);
  t.release("a");
  t.release("b");
  t.release("c");
  EXPECT_EQ(t.total(), 0u);
  EXPECT_EQ(t.of("a"), 0u);
}

TEST(ConnectionLimits, CapsPerOwnerAndGivesPlacesBack) {
  ConnectionTable t(100, 100, 2);
  EXPECT_TRUE(t.admit_owner("ann"));
  EXPECT_TRUE(t.admit_owner("ann"));
  EXPECT_FALSE(t.admit_owner("ann"));
  EXPECT_TRUE(t.admit_owner("bob"));
  EXPECT_EQ(t.of_owner("ann"), 2U);
  t.release_owner("ann");
  EXPECT_EQ(t.of_owner("ann"), 1U);
  EXPECT_TRUE(t.admit_owner("ann"));
  t.release_owner("nobody");  // never admitted: nothing to give back
  EXPECT_EQ(t.of_owner("nobody"), 0U);
}

TEST(ConnectionLimits, BodyBudgetNeverPassesItsCap) {
  BodyBudget b(100);
  EXPECT_TRUE(b.reserve(60));
  EXPECT_FALSE(b.reserve(41));
  EXPECT_TRUE(b.reserve(40));
  EXPECT_FALSE(b.reserve(1));
  EXPECT_FALSE(b.release(60));  // small amounts are never worth a trim
  EXPECT_FALSE(b.release(40));
  EXPECT_EQ(b.in_use(), 0u);
}

TEST(ConnectionLimits, TrimOnceABurstOfBodiesIsGone) {
  BodyBudget b(std::size_t{1} << 30);
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(b.reserve(1 << 20));
  for (int i = 0; i < 39; ++i)
    EXPECT_FALSE(b.release(1 << 20)) << "still buffered: no trim yet";
  EXPECT_TRUE(b.release(1 << 20));
  EXPECT_TRUE(b.reserve(1 << 20));
  EXPECT_FALSE(b.release(1 << 20)) << "the last trim was recent";
}

TEST(AcceptBackoff, WaitsLongerEachTimeAndLogsOncePerInterval) {
  AcceptBackoff b;
  auto t0 = AcceptBackoff::Clock::time_point{} + std::chrono::hours(1);
  auto first = b.failed(t0);
  EXPECT_EQ(first.wait, AcceptBackoff::kFirstWait);
  EXPECT_TRUE(first.log);
  std::chrono::milliseconds last = first.wait;
  for (int i = 1; i < 20; ++i) {
    auto step = b.failed(t0 + std::chrono::milliseconds(i));
    EXPECT_FALSE(step.log);
    EXPECT_GE(step.wait, last);
    EXPECT_LE(step.wait, AcceptBackoff::kLongestWait);
    last = step.wait;
  }
  EXPECT_EQ(last, AcceptBackoff::kLongestWait);
  auto later = b.failed(t0 + AcceptBackoff::kLogInterval);
  EXPECT_TRUE(later.log);
  EXPECT_EQ(later.suppressed, 19u);
  b.succeeded();
  EXPECT_EQ(b.failed(t0 + AcceptBackoff::kLogInterval).wait, AcceptBackoff::kFirstWait);
}

TEST(HeldRequests, CapsPerJobAndPerOwnerAndGivesPlacesBack) {
  auto held = std::make_shared<HeldRequests>(HeldRequests::Limits{.per_job = 2, .per_owner = 3});
  auto a = held->take(1, "ann");
  auto b = held->take(1, "bob");
  ASSERT_TRUE(a.ticket && b.ticket);
  auto c = held->take(1, "cy");
  EXPECT_FALSE(c.ticket);
  EXPECT_EQ(c.refusal, HeldRequests::Refusal::job_full);
  auto d = held->take(2, "ann");
  auto e = held->take(0, "ann");  // a /run-script: counted for its owner only
  ASSERT_TRUE(d.ticket && e.ticket);
  EXPECT_EQ(held->of_job(0), 0u);
  auto f = held->take(3, "ann");
  EXPECT_EQ(f.refusal, HeldRequests::Refusal::owner_full);
  a.ticket.reset();
  EXPECT_EQ(held->of_job(1), 1u);
  EXPECT_EQ(held->of_owner("ann"), 2u);
  EXPECT_TRUE(held->take(1, "cy").ticket);
}

}  // namespace
}  // namespace vramq::server
