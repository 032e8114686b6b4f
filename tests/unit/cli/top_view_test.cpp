// `vramq top`'s screen from the API's objects: the model follows events, the GPU bar splits
// memory as documented, the lines fit the terminal, the footer stays at the bottom.
#include "cli/top_view.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace vramq::cli {
namespace {

boost::json::object obj(std::string_view text) {
  return boost::json::parse(text).as_object();
}

TopModel model() {
  TopModel m;
  m.apply("gpu", obj(R"({"index": 0, "name": "H200", "total_mb": 10240, "used_mb": 4096,
                         "reserved_mb": 4096, "committed_mb": 5120, "foreign_mb": 1024,
                         "available_mb": 3072, "known": true})"));
  m.apply("job", obj(R"({"id": 7, "state": "running", "task": "triposr", "gpus": [0],
                         "vram_mb": 5120, "measured_vram_mb": 3072,
                         "started_at": "1970-01-01T00:00:00.000Z",
                         "progress": {"fraction": 0.5, "message": "meshing", "eta_s": 30}})"));
  m.apply("queue", obj(R"({"queued": 3, "waiting": 1, "head": [
      {"id": 9, "queue_position": 0, "pending_reason": "vram", "task": "triposr", "name": null,
       "vram_mb": 6144, "gpu_count": 1, "priority": 0}]})"));
  m.apply("worker", obj(R"({"id": 2, "task": "sd", "gpu": 0, "state": "idle",
                            "resident_mb": 2048, "runs": 4})"));
  return m;
}

TEST(TopView, TheModelFollowsEvents) {
  TopModel m = model();
  EXPECT_EQ(selectable(m), (std::vector<std::int64_t>{7, 9}));
  m.apply("job", obj(R"({"id": 7, "state": "succeeded"})"));
  m.apply("worker", obj(R"({"id": 2, "state": "exited"})"));
  m.apply("reset", obj("{}"));
  EXPECT_TRUE(m.running.empty());
  EXPECT_TRUE(m.workers.empty());
  EXPECT_EQ(selectable(m), (std::vector<std::int64_t>{9}));
}

TEST(TopView, GpuBarSplitsMeasuredReservedForeignFree) {
  // 10 GiB: 3 measured (4 used - 1 foreign), 2 reserved beyond that (5 committed), 1 foreign.
  EXPECT_EQ(gpu_bar(model().gpus.at(0), 10), "[###++=....]");
}

TEST(TopView, RendersWithinTheTerminal) {
  TopFrame f{.cols = 100,
             .rows = 20,
             .selected = 9,
             .now_ms = 65'000,
             .title = "http://x",
             .footer = "q quit"};
  std::vector<std::string> lines = render_top(model(), f);
  ASSERT_EQ(lines.size(), 20u);
  EXPECT_EQ(lines.back(), "q quit");
  std::string all;
  for (const std::string& l : lines) {
    EXPECT_LE(l.size(), 100u) << l;
    all += l + "\n";
  }
  EXPECT_NE(all.find("1 running | 3 queued (+1 waiting) | 1 workers"), std::string::npos) << all;
  EXPECT_NE(all.find("[#####-----]  50% meshing"), std::string::npos) << all;
  EXPECT_NE(all.find("0:30"), std::string::npos) << all;  // ETA
  EXPECT_NE(all.find("1:05"), std::string::npos) << all;  // elapsed
  EXPECT_NE(all.find("3.0/5.0 GiB"), std::string::npos) << all;
  EXPECT_NE(all.find("> 9 "), std::string::npos) << all;  // the selected job
  EXPECT_NE(all.find("waiting for VRAM to free up"), std::string::npos) << all;
  f.rows = 5;
  lines = render_top(model(), f);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines.back(), "q quit");
}

TEST(TopView, NamesCannotMoveTheCursor) {
  TopModel m;
  m.apply("job", obj(R"({"id": 1, "state": "running", "task": "x\u001b[2Jy", "gpus": [0]})"));
  TopFrame f{.cols = 200, .rows = 30, .selected = 0, .now_ms = 0, .title = "", .footer = ""};
  for (const std::string& l : render_top(m, f))
    EXPECT_EQ(l.find('\x1b'), std::string::npos) << l;
}

}  // namespace
}  // namespace vramq::cli
