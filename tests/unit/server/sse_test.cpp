// Server-Sent Events framing: what a browser's EventSource parses back is what was sent.
#include "server/sse.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace vramq::server {
namespace {

// A minimal parser after the standard's "interpret the event stream": fields of one event.
struct Parsed {
  std::string id;
  std::string event;
  std::string data;
  int events = 0;
};
Parsed parse(std::string_view stream) {
  Parsed p;
  std::vector<std::string> data;
  while (!stream.empty()) {
    std::size_t nl = stream.find('\n');
    std::string_view line = stream.substr(0, nl);
    stream.remove_prefix(nl == std::string_view::npos ? stream.size() : nl + 1);
    if (line.empty()) {
      ++p.events;
      continue;
    }
    if (line.front() == ':') continue;
    std::size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (field == "id") p.id = value;
    if (field == "event") p.event = value;
    if (field == "data") data.emplace_back(value);
  }
  for (std::size_t i = 0; i < data.size(); ++i)
    p.data += (i ? "\n" : "") + data[i];
  return p;
}

TEST(Sse, OneEventWithItsIdTypeAndData) {
  std::string e = sse_event(42, "job", R"({"id":7,"state":"running"})");
  EXPECT_EQ(e, "id: 42\nevent: job\ndata: {\"id\":7,\"state\":\"running\"}\n\n");
  Parsed p = parse(e);
  EXPECT_EQ(p.id, "42");
  EXPECT_EQ(p.event, "job");
  EXPECT_EQ(p.events, 1);
}

TEST(Sse, LineBreaksInDataCannotEndTheEventOrForgeFields) {
  for (std::string_view data : {"a\nb", "a\r\nb", "a\rb", "a\n\nid: 9\nevent: reset", "\n", ""}) {
    Parsed p = parse(sse_event(5, "job", data));
    EXPECT_EQ(p.events, 1) << data;
    EXPECT_EQ(p.id, "5") << data;
    EXPECT_EQ(p.event, "job") << data;
  }
  EXPECT_EQ(parse(sse_event(1, "job", "a\r\nb\rc")).data, "a\nb\nc");
  EXPECT_EQ(parse(sse_heartbeat()).events, 1);
  EXPECT_EQ(parse(sse_heartbeat()).id, "") << "a comment carries nothing";
}

TEST(Sse, ResumeIdsFromTheHeaderOrTheQuery) {
  EXPECT_FALSE(parse_resume_id(std::nullopt, std::nullopt).after);
  EXPECT_EQ(*parse_resume_id("17", std::nullopt).after, 17u);
  EXPECT_EQ(*parse_resume_id(std::nullopt, "3").after, 3u);
  EXPECT_EQ(*parse_resume_id("17", "3").after, 17u) << "the browser's header wins";
  ResumeId bad = parse_resume_id("-1", std::nullopt);
  EXPECT_FALSE(bad.after);
  EXPECT_NE(bad.error.find("Last-Event-ID"), std::string::npos) << bad.error;
  EXPECT_FALSE(parse_resume_id(std::nullopt, "x").error.empty());
  EXPECT_FALSE(parse_resume_id("", std::nullopt).error.empty());
}

}  // namespace
}  // namespace vramq::server
