#include "server/json_codec.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace vramq::server {
namespace {

TEST(ParseSubmit, FullTaskSubmission) {
  auto r = parse_submit(R"({"task":"t","params":{"n":3,"x":1.5,"s":"a","b":true},"vram_mb":100,
                          "priority":-2,"timeout_s":60,"max_retries":1,"env":{"HF_HOME":"/c"}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->task, "t");
  ASSERT_EQ(r->params.size(), 4u);
  EXPECT_EQ(std::get<std::int64_t>(r->params[0].second), 3);
  EXPECT_EQ(std::get<double>(r->params[1].second), 1.5);
  EXPECT_EQ(std::get<std::string>(r->params[2].second), "a");
  EXPECT_EQ(std::get<bool>(r->params[3].second), true);
  EXPECT_EQ(r->vram_mb, 100);
  EXPECT_EQ(r->priority, -2);
  EXPECT_EQ(r->timeout_s, 60);
  EXPECT_EQ(r->max_retries, 1);
  EXPECT_EQ(r->env.at(0).first, "HF_HOME");
}

TEST(ParseSubmit, RawCommand) {
  auto r = parse_submit(R"({"command":["/bin/echo","hi"]})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->task.empty());
  EXPECT_EQ(r->command, (std::vector<std::string>{"/bin/echo", "hi"}));
}

TEST(ParseSubmit, ErrorsNameTheField) {
  struct Case {
    const char* body;
    const char* field;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"{", ""},
           {"3", ""},
           {R"({"task":"t","extra":1})", "extra"},
           {R"({"task":"t","command":["x"]})", "task"},
           {R"({})", "task"},
           {R"({"task":""})", "task"},
           {R"({"task":"t","params":{"a":null}})", "params.a"},
           {R"({"task":"t","params":{"a":[1]}})", "params.a"},
           {R"({"task":"t","params":{"a":18446744073709551615}})", "params.a"},
           {R"({"command":[]})", "command"},
           {R"({"command":[""]})", "command[0]"},
           {R"({"command":["a",1]})", "command[1]"},
           {R"({"command":"ls"})", "command"},
           {R"({"command":["x"],"params":{}})", "params"},
           {R"({"task":"t","vram_mb":1.5})", "vram_mb"},
           {R"({"task":"t","vram_mb":1e300})", "vram_mb"},
           {R"({"task":"t","vram_mb":1099511627777})", "vram_mb"},
           {R"({"task":"t","priority":1001})", "priority"},
           {R"({"task":"t","timeout_s":-1})", "timeout_s"},
           {R"({"task":"t","max_retries":"1"})", "max_retries"},
           {R"({"task":"t","env":{"1BAD":"x"}})", "env.1BAD"},
           {R"({"task":"t","env":{"CUDA_VISIBLE_DEVICES":"0"}})", "env.CUDA_VISIBLE_DEVICES"},
           {R"({"task":"t","env":{"A":1}})", "env.A"},
       }) {
    auto r = parse_submit(c.body);
    ASSERT_FALSE(r) << c.body;
    EXPECT_EQ(r.error().field, c.field) << c.body << " -> " << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(ParseSubmit, IntegralNumbersAreIntegers) {
  auto r = parse_submit(R"({"task":"t","vram_mb":2.0,"priority":-3.0,"timeout_s":6e1})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->vram_mb, 2);
  EXPECT_EQ(r->priority, -3);
  EXPECT_EQ(r->timeout_s, 60);
}

TEST(JobToJson, QueuedAndTerminalShapes) {
  service::JobView v;
  v.job.id = 4;
  v.job.spec.task = "t";
  v.job.spec.params_json = R"({"n":1})";
  v.job.spec.argv = {"/x"};
  v.job.submitted_at_ms = 1'795'614'131'715;
  v.queue_position = 2;
  v.pending_reason = core::PendingReason::vram;
  auto o = job_to_json(v);
  EXPECT_EQ(o.at("state").as_string(), "queued");
  EXPECT_EQ(o.at("queue_position").as_int64(), 2);
  EXPECT_EQ(o.at("pending_reason").as_string(), "vram");
  EXPECT_TRUE(o.at("output").is_null());
  EXPECT_TRUE(o.at("reason").is_null());
  EXPECT_EQ(o.at("submitted_at").as_string(), "2026-11-25T13:42:11.715Z");
  EXPECT_EQ(o.at("params").at("n").as_int64(), 1);

  v.job.state = core::JobState::failed;
  v.job.reason = core::EndReason::nonzero_exit;
  v.job.exit_code = 3;
  v.job.output = "out";
  o = job_to_json(v);
  EXPECT_TRUE(o.at("queue_position").is_null());
  EXPECT_TRUE(o.at("pending_reason").is_null());
  EXPECT_EQ(o.at("reason").as_string(), "nonzero_exit");
  EXPECT_EQ(o.at("output").as_string(), "out");
  EXPECT_EQ(o.at("exit_code").as_int64(), 3);
}

TEST(Rfc3339, Epoch) {
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace vramq::server
