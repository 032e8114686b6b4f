// The warm-worker protocol's lines: what vramq sends parses back as the worker sees it, and what
// a worker sends is accepted exactly when it follows docs/workers.md.
#include "exec/worker_protocol.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace vramq::exec {
namespace {

TEST(WorkerProtocol, CommandsRoundTrip) {
  std::vector<std::pair<std::string, std::string>> env{{"HF_TOKEN", "x"}};
  std::string line = run_line({.job = 42,
                               .attempt = 2,
                               .params_json = R"({"image":"a.png","steps":20})",
                               .job_dir = "/d/jobs/42",
                               .deadline_ms = 1234,
                               .vram_mb = 6144,
                               .env = env});
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(std::ranges::count(line, '\n'), 1) << "one line";
  auto c = parse_worker_command(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, WorkerCommand::Type::run);
  EXPECT_EQ(c->job, 42);
  EXPECT_EQ(c->job_dir, "/d/jobs/42");
  EXPECT_EQ(c->deadline_ms, 1234);
  EXPECT_EQ(boost::json::parse(c->params_json),
            boost::json::parse(R"({"image":"a.png","steps":20})"));
  boost::json::object o = boost::json::parse(line).as_object();
  EXPECT_EQ(o.at("env").at("HF_TOKEN"), "x");
  EXPECT_EQ(o.at("attempt"), 2);
  EXPECT_EQ(o.at("vram_mb"), 6144);

  EXPECT_EQ(parse_worker_command(cancel_line(7))->job, 7);
  EXPECT_EQ(parse_worker_command(ping_line(9))->seq, 9u);
  EXPECT_EQ(parse_worker_command(shutdown_line())->type, WorkerCommand::Type::shutdown);
  auto init = boost::json::parse(init_line({.worker = 3, .task = "triposr", .gpu = 1}));
  EXPECT_EQ(init.at("type"), "init");
  EXPECT_EQ(init.at("protocol"), kWorkerProtocolVersion);
  EXPECT_EQ(init.at("worker"), 3);
}

TEST(WorkerProtocol, MessagesFromWorkers) {
  auto strip = [](std::string s) { return s.substr(0, s.size() - 1); };
  auto m = parse_worker_message(strip(result_line(5, "mesh.obj written")));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, WorkerMessageType::result);
  EXPECT_EQ(m->job, 5);
  EXPECT_EQ(m->text, "mesh.obj written");
  m = parse_worker_message(strip(error_line(5, "bad image", true)));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, WorkerMessageType::error);
  EXPECT_TRUE(m->retryable);
  EXPECT_EQ(m->text, "bad image");
  m = parse_worker_message(R"({"type":"error","job":5,"message":"x"})");
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->retryable) << "not retryable unless it says so";
  m = parse_worker_message(strip(progress_line(5, 0.25, "marching cubes")));
  ASSERT_TRUE(m);
  EXPECT_DOUBLE_EQ(*m->fraction, 0.25);
  EXPECT_EQ(parse_worker_message(R"({"type":"ready"})")->type, WorkerMessageType::ready);
  EXPECT_EQ(parse_worker_message(strip(pong_line(12)))->seq, 12u);
  EXPECT_EQ(parse_worker_message(strip(cancelled_line(5)))->type, WorkerMessageType::cancelled);
  m = parse_worker_message(R"({"type":"fatal","message":"CUDA driver gone"})");
  EXPECT_EQ(m->text, "CUDA driver gone");
  EXPECT_EQ(parse_worker_message(R"({"type":"result","job":5.0})")->job, 5) << "3.0 is 3";
  EXPECT_TRUE(parse_worker_message(R"({"type":"ready","extra":[1,2]})")) << "unknown keys ignored";
}

TEST(WorkerProtocol, LinesThatBreakItAreRefusedWithAReason) {
  struct Case {
    std::string line;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"hello", "not JSON"},
           {"[1,2]", "not a JSON object"},
           {R"({"job":1})", "no \"type\""},
           {R"({"type":"finished","job":1})", "unknown type"},
           {R"({"type":"result"})", "\"job\""},
           {R"({"type":"result","job":-1})", "\"job\""},
           {R"({"type":"result","job":"1"})", "\"job\" must be an integer"},
           {R"({"type":"result","job":1,"output":7})", "\"output\" must be a string"},
           {R"({"type":"error","job":1,"retryable":"yes"})", "\"retryable\""},
           {R"({"type":"progress","job":1,"fraction":1.5})", "\"fraction\""},
           {R"({"type":"pong"})", "seq"},
       }) {
    auto m = parse_worker_message(c.line);
    ASSERT_FALSE(m) << c.line;
    EXPECT_NE(m.error().message.find(c.says), std::string::npos)
        << c.line << ": " << m.error().message;
  }
  std::string huge =
      R"({"type":"result","job":1,"output":")" + std::string(kMaxWorkerLineBytes, 'x') + R"("})";
  auto m = parse_worker_message(huge);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("at most"), std::string::npos);
}

}  // namespace
}  // namespace vramq::exec
