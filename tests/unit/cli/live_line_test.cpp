// The live line of `vramq submit --wait` / `vramq wait`, from job objects as the server sends them.
#include "cli/live_line.hpp"

#include "cli/json_fields.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace vramq::cli {
namespace {

boost::json::object job(std::string_view text) {
  return boost::json::parse(text).as_object();
}

TEST(LiveLine, Queued) {
  auto j = job(R"({"id": 12, "state": "queued", "queue_position": 2, "pending_reason": "vram",
                   "vram_mb": 6144})");
  EXPECT_EQ(live_line(j, 0), "job 12 queued · 2 ahead · waiting for VRAM to free up (6.0 GiB)");
  j["queue_position"] = 0;
  EXPECT_EQ(live_line(j, 0),
            "job 12 queued · next in line · waiting for VRAM to free up (6.0 GiB)");
  EXPECT_EQ(live_key(j), "queued 0 vram");
}

TEST(LiveLine, RunningWithProgress) {
  auto j = job(R"({"id": 12, "state": "running", "gpus": [0], "vram_mb": 6144,
                   "measured_vram_mb": 5939, "started_at": "2026-11-29T16:43:36.000Z",
                   "progress": {"fraction": 0.45, "current": 45, "total": 100, "unit": "it",
                                "rate": 15.2, "eta_s": 3.4, "message": "Meshing",
                                "updated_at": "2026-11-29T16:43:40.000Z"}})");
  std::int64_t now = *parse_rfc3339_ms("2026-11-29T16:43:48.400Z");
  EXPECT_EQ(live_line(j, now),
            "job 12 running on GPU 0 · Meshing [#########-----------] 45% 45/100 it · ETA 0:03 · "
            "VRAM 5.8 GiB of 6.0 GiB · 0:12");
  EXPECT_EQ(live_key(j), "running 0");
}

TEST(LiveLine, RunningWithoutProgressOrReading) {
  auto j = job(R"({"id": 3, "state": "running", "gpus": [0, 1], "vram_mb": 512,
                   "measured_vram_mb": null, "progress": null, "started_at": null})");
  EXPECT_EQ(live_line(j, 0), "job 3 running on GPU 0,1 · 512 MiB reserved");
  EXPECT_EQ(live_line(job(R"({"id": 3, "state": "succeeded"})"), 0), "job 3 succeeded");
}

TEST(JsonFields, OddShapesReadAsNone) {
  auto j = job(R"({"a": 3, "b": 2.9, "c": 1e300, "d": "x", "e": null, "f": 18446744073709551615})");
  EXPECT_EQ(integer_field(j, "a"), 3);
  EXPECT_EQ(integer_field(j, "b"), 2);
  EXPECT_EQ(integer_field(j, "c", -1), -1);
  EXPECT_EQ(integer_field(j, "d", -1), -1);
  EXPECT_EQ(integer_field(j, "missing", 7), 7);
  EXPECT_EQ(integer_field(j, "f"), INT64_MAX);
  EXPECT_EQ(number_field(j, "b"), 2.9);
  EXPECT_FALSE(number_field(j, "e"));
  EXPECT_EQ(text_field(j, "d"), "x");
  EXPECT_EQ(text_field(j, "a"), "");
}

TEST(LiveLine, Pieces) {
  EXPECT_EQ(progress_bar(0.5, 4), "[##--]");
  EXPECT_EQ(progress_bar(1.7, 4), "[####]");
  EXPECT_EQ(progress_bar(-1, 4), "[----]");
  EXPECT_EQ(clock_text(7), "0:07");
  EXPECT_EQ(clock_text(723), "12:03");
  EXPECT_EQ(clock_text(3723), "1:02:03");
  EXPECT_EQ(mib_text(512), "512 MiB");
  EXPECT_EQ(reason_words("worker_busy"), "its task's warm workers are all busy");
  EXPECT_EQ(reason_words("something_new"), "something_new");
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:01.500Z"), 1500);
  EXPECT_FALSE(parse_rfc3339_ms("1970-02-30T00:00:01.500Z"));
  EXPECT_FALSE(parse_rfc3339_ms("yesterday"));
}

}  // namespace
}  // namespace vramq::cli
