// The CLI's reader of GET /v1/events: events split anywhere across pieces, every line ending,
// multi-line data, comments; and a round trip with the server's own framing (server/sse).
#include "cli/sse_reader.hpp"

#include <gtest/gtest.h>

#include "server/sse.hpp"

namespace vramq::cli {
namespace {

TEST(SseReader, EventsSplitAnywhere) {
  std::string stream =
      "id: 7\nevent: job\ndata: {\"a\":1}\n\n: keep-alive\n\nid: 8\r\nevent: gpu\r"
      "\ndata: x\r\rdata:no space\n\n";
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    SseReader r;
    std::vector<SseEvent> got = r.feed(std::string_view(stream).substr(0, cut));
    for (SseEvent& e : r.feed(std::string_view(stream).substr(cut)))
      got.push_back(std::move(e));
    ASSERT_EQ(got.size(), 3u) << cut;
    EXPECT_EQ(got[0].id, "7");
    EXPECT_EQ(got[0].type, "job");
    EXPECT_EQ(got[0].data, "{\"a\":1}");
    EXPECT_EQ(got[1].type, "gpu");
    EXPECT_EQ(got[1].data, "x");
    EXPECT_EQ(got[2].type, "message");
    EXPECT_EQ(got[2].data, "no space");
  }
}

TEST(SseReader, ReadsWhatTheServerWrites) {
  std::string data = "line one\nline two\r\nthree\rfour";
  SseReader r;
  auto got = r.feed(server::sse_event(42, "job", data) + server::sse_heartbeat());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, "42");
  EXPECT_EQ(got[0].data, "line one\nline two\nthree\nfour");
  EXPECT_TRUE(r.feed("\n\n\n").empty()) << "blank lines alone are no event";
}

}  // namespace
}  // namespace vramq::cli
