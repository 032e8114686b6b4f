#include "core/task_catalog.hpp"
#include "core/file_param.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

namespace vramq::core {
namespace {

constexpr std::string_view kCatalog = R"(
[tasks.triposr]
description = "Image to 3D mesh"
argv = ["/opt/TripoSR/.venv/bin/python", "run.py", "{image}", "--output-dir", "{job_dir}",
        "--mc-resolution", "{mc_resolution}", "--tag=job-{job_id}"]
cwd = "/opt/TripoSR"
env_allow = ["HF_HOME"]
env = { PYTHONUNBUFFERED = "1" }
timeout_s = 900
[tasks.triposr.params]
image = { type = "path", under = "/srv/inputs" }
mc_resolution = { type = "int", min = 32, max = 1024, default = 256 }
[tasks.triposr.vram]
base_mb = 6144
per_unit_mb = 0.004
unit = "mc_resolution^3"

[tasks.echo]
argv = ["{bin_dir}/echo", "{text}", "{scale}", "{mode}"]
[tasks.echo.params]
text = { type = "string", pattern = "[a-z_{}]+", default = "hi" }
scale = { type = "float", min = 0, max = 2, default = 1.5 }
mode = { type = "enum", values = ["fast", "slow"], default = "fast" }
[tasks.echo.vram]
base_mb = 100
)";

using Given = std::vector<std::pair<std::string, ParamInput>>;

TaskCatalog load() {
  auto c = TaskCatalog::parse(kCatalog, "/usr/lib/vramq");
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  return *c;
}

TEST(TaskCatalog, ParsesTasksSortedByName) {
  TaskCatalog c = load();
  ASSERT_EQ(c.tasks().size(), 2u);
  EXPECT_EQ(c.tasks()[0].name, "echo");
  EXPECT_EQ(c.tasks()[1].name, "triposr");
  EXPECT_EQ(c.find("echo")->argv[0], "/usr/lib/vramq/echo");  // {bin_dir} filled at load
  EXPECT_EQ(c.find("nope"), nullptr);
  const TaskDef* t = c.find("triposr");
  EXPECT_EQ(t->timeout_s, 900);
  EXPECT_EQ(t->env_allow, std::vector<std::string>{"HF_HOME"});
  EXPECT_EQ(t->params.size(), 2u);
}

TEST(TaskCatalog, ResolvesArgvCwdAndVram) {
  TaskCatalog c = load();
  auto r =
      resolve_task(*c.find("triposr"), Given{{"image", std::string("cat.png")}}, "/data/jobs/7", 7);
  ASSERT_TRUE(r) << r.error().field << ": " << r.error().message;
  EXPECT_EQ(r->argv, (std::vector<std::string>{
                         "/opt/TripoSR/.venv/bin/python", "run.py", "/srv/inputs/cat.png",
                         "--output-dir", "/data/jobs/7", "--mc-resolution", "256", "--tag=job-7"}));
  EXPECT_EQ(r->cwd, "/opt/TripoSR");
  EXPECT_EQ(r->vram_mb, 6144 + 67109);
  EXPECT_EQ(r->timeout_s, 900);
  EXPECT_EQ(r->env, (std::vector<std::pair<std::string, std::string>>{{"PYTHONUNBUFFERED", "1"}}));
}

TEST(TaskCatalog, DefaultCwdIsTheJobDirAndValuesAreNotExpandedTwice) {
  TaskCatalog c = load();
  auto r = resolve_task(*c.find("echo"), Given{{"text", std::string("{job_dir}")}}, "/d/1", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->argv[1], "{job_dir}");
  EXPECT_EQ(r->argv[2], "1.5");
  EXPECT_EQ(r->cwd, "/d/1");
  EXPECT_EQ(r->vram_mb, 100);
}

struct BadParam {
  Given given;
  std::string field;
  std::string fragment;
};

TEST(TaskCatalog, BadParametersAreErrorsNamingTheParameter) {
  TaskCatalog c = load();
  const TaskDef& tri = *c.find("triposr");
  const TaskDef& echo = *c.find("echo");
  std::vector<std::pair<const TaskDef*, BadParam>> cases = {
      {&tri, {{}, "params.image", "required"}},
      {&tri,
       {{{"image", std::string("a")}, {"bogus", std::int64_t{1}}}, "params.bogus", "no parameter"}},
      {&tri, {{{"image", std::string("../etc/passwd")}}, "params.image", "inside /srv/inputs"}},
      {&tri, {{{"image", std::string("/etc/passwd")}}, "params.image", "inside /srv/inputs"}},
      {&tri, {{{"image", std::string("/srv/inputs")}}, "params.image", "inside"}},
      {&tri, {{{"image", std::int64_t{3}}}, "params.image", "string"}},
      {&tri,
       {{{"image", std::string("a")}, {"mc_resolution", std::int64_t{16}}},
        "params.mc_resolution",
        ">= 32"}},
      {&tri,
       {{{"image", std::string("a")}, {"mc_resolution", std::int64_t{4096}}},
        "params.mc_resolution",
        "<= 1024"}},
      {&tri,
       {{{"image", std::string("a")}, {"mc_resolution", 256.5}},
        "params.mc_resolution",
        "integer"}},
      {&tri,
       {{{"image", std::string("a")}, {"mc_resolution", true}}, "params.mc_resolution", "boolean"}},
      {&tri, {{{"image", std::string("a")}, {"image", std::string("b")}}, "params.image", "twice"}},
      {&echo, {{{"text", std::string("ABC")}}, "params.text", "pattern"}},
      {&echo, {{{"text", std::string(5000, 'a')}}, "params.text", "longer"}},
      {&echo, {{{"scale", 2.5}}, "params.scale", "<= 2"}},
      {&echo, {{{"scale", std::string("1")}}, "params.scale", "number"}},
      {&echo, {{{"mode", std::string("medium")}}, "params.mode", "fast, slow"}},
  };
  for (const auto& [task, bad] : cases) {
    auto r = resolve_task(*task, bad.given, "/d", 1);
    ASSERT_FALSE(r) << bad.field;
    EXPECT_EQ(r.error().field, bad.field);
    EXPECT_NE(r.error().message.find(bad.fragment), std::string::npos)
        << bad.field << ": " << r.error().message;
  }
}

// The review's crashes: patterns that make a backtracking matcher recurse once per character
// (std::regex overflowed its stack on 16 KiB) must match or fail promptly on the longest values.
TEST(TaskCatalog, PatternsMatchLongValuesWithoutRecursion) {
  auto c = TaskCatalog::parse(R"(
[tasks.t]
argv = ["x", "{a}", "{b}"]
[tasks.t.params]
a = { type = "string", pattern = "(.|\n)*", max_length = 1048576 }
b = { type = "string", pattern = "([a-z]+ ?)*", max_length = 1048576, default = "x" }
[tasks.t.vram]
base_mb = 1
)",
                              "/bin");
  ASSERT_TRUE(c) << c.error().message;
  const TaskDef& t = *c->find("t");
  std::string long_a(1 << 20, 'a');
  for (std::size_t i = 0; i < long_a.size(); i += 64)
    long_a[i] = '\n';
  EXPECT_TRUE(resolve_task(t, {{"a", long_a}}, "/d", 1));
  std::string words;
  while (words.size() < 30000)
    words += "abc ";
  EXPECT_TRUE(resolve_task(t, {{"a", std::string("x")}, {"b", words}}, "/d", 1));
  // The classic catastrophic case for a backtracker: almost matches, fails at the very end.
  std::string almost(30000, 'a');
  almost += '!';
  auto r = resolve_task(t, {{"a", std::string("x")}, {"b", almost}}, "/d", 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "params.b");
}

TEST(TaskCatalog, PatternsOutsideRe2AreRefusedAtLoad) {
  for (const char* pattern : {"(a)\\1", "(?=a)a", "a{1001}"}) {
    auto c = TaskCatalog::parse(fmt::format(R"(
[tasks.t]
argv = ["x"]
[tasks.t.params]
s = {{ type = "string", pattern = '{}' }}
[tasks.t.vram]
base_mb = 1
)",
                                            pattern),
                                "/bin");
    ASSERT_FALSE(c) << pattern;
    EXPECT_NE(c.error().message.find("tasks.t.params.s.pattern"), std::string::npos)
        << c.error().message;
    EXPECT_NE(c.error().message.find("RE2"), std::string::npos) << c.error().message;
  }
}

TEST(TaskCatalog, IntParamsAcceptIntegralNumbers) {
  TaskCatalog c = load();
  auto r = resolve_task(*c.find("triposr"),
                        Given{{"image", std::string("a")}, {"mc_resolution", 512.0}}, "/d", 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(std::get<std::int64_t>(r->params.at("mc_resolution")), 512);
  EXPECT_EQ(r->argv[6], "512");
}

TEST(TaskCatalog, FloatParamsAcceptIntegers) {
  TaskCatalog c = load();
  auto r = resolve_task(*c.find("echo"), Given{{"scale", std::int64_t{2}}}, "/d", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->argv[2], "2");
}

TEST(TaskCatalog, RejectsBrokenCatalogsWithTheKeyNamed) {
  struct Bad {
    std::string toml;
    std::string fragment;
  };
  std::vector<Bad> cases = {
      {"[tasks.a]\nargv = [\"x\"]\n", "[vram]"},
      {"[tasks.a]\nargv = []\n[tasks.a.vram]\nbase_mb = 1\n", "argv"},
      {"[tasks.a]\nargv = [\"{nope}\"]\n[tasks.a.vram]\nbase_mb = 1\n", "{nope}"},
      {"[tasks.a]\nargv = [\"x\"]\nargs = 1\n[tasks.a.vram]\nbase_mb = 1\n", "unknown key 'args'"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\nn = { type = \"integer\" }\n[tasks.a.vram]\n",
       "type must be"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\nn = { type = \"int\", default = \"x\" "
       "}\n[tasks.a.vram]\n",
       "default"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\nn = { type = \"int\", min = 5, max = 1 "
       "}\n[tasks.a.vram]\n",
       "min"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\np = { type = \"path\" }\n[tasks.a.vram]\n",
       "under"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\ne = { type = \"enum\" }\n[tasks.a.vram]\n",
       "values"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\ns = { type = \"string\", pattern = \"(\" "
       "}\n[tasks.a.vram]\n",
       "pattern"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.vram]\nbase_mb = 1\nunit = \"n\"\nper_unit_mb = 1\n",
       "numeric parameter"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\nn = { type = \"int\", min = 0, max = 10, "
       "default = 11 }\n[tasks.a.vram]\n",
       "tasks.a.params.n.default: must be <= 10"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\nf = { type = \"float\", min = 1, default = "
       "0.5 "
       "}\n[tasks.a.vram]\n",
       "tasks.a.params.f.default: must be >= 1"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\ne = { type = \"enum\", values = [\"a\"], "
       "default = \"b\" }\n[tasks.a.vram]\n",
       "tasks.a.params.e.default: must be one of: a"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\ns = { type = \"string\", pattern = "
       "\"[a-z]+\", "
       "default = \"A\" }\n[tasks.a.vram]\n",
       "tasks.a.params.s.default: must match"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\np = { type = \"path\", under = \"/srv\", "
       "default = \"../etc\" }\n[tasks.a.vram]\n",
       "tasks.a.params.p.default: must be a path inside /srv"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\ns = { type = \"string\", max_length = -1 "
       "}\n[tasks.a.vram]\n",
       "tasks.a.params.s.max_length"},
      // Found by fuzzing: a float this large was converted to an integer (undefined behaviour).
      {"[tasks.a]\nargv = [\"x\"]\ntimeout_s = 3333333333333333333333333333336.0\n[tasks.a.vram]\n",
       "tasks.a.timeout_s: must be an integer"},
      {"[tasks.a]\nargv = [\"x\"]\ntimeout_s = 1.5\n[tasks.a.vram]\n",
       "tasks.a.timeout_s: must be an integer"},
      {"[tasks.a]\nargv = [\"x\"]\ntimeout_s = 99999999999\n[tasks.a.vram]\n",
       "tasks.a.timeout_s: must be from 0 to"},
      {"[tasks.a]\nargv = [\"x\"]\n[tasks.a.params]\ns = { type = \"string\", max_length = 1e300 "
       "}\n[tasks.a.vram]\n",
       "tasks.a.params.s.max_length: must be an integer"},
      {"[tasks.a\n", "line 1"},
      {"tasks = 3\n", "tasks"},
  };
  for (const Bad& b : cases) {
    auto r = TaskCatalog::parse(b.toml, "/bin");
    ASSERT_FALSE(r) << b.toml;
    EXPECT_NE(r.error().message.find(b.fragment), std::string::npos)
        << b.toml << "\n=> " << r.error().message;
  }
}

TEST(TaskCatalog, ReservationRangeSpansTheParameters) {
  auto c = TaskCatalog::parse(R"(
[tasks.grid]
argv = ["x"]
[tasks.grid.params]
res = { type = "int", min = 32, max = 1024, default = 256 }
[tasks.grid.vram]
base_mb = 1000
per_unit_mb = 0.001
unit = "res^3"
[tasks.required]
argv = ["x"]
[tasks.required.params]
n = { type = "int", min = 2 }
[tasks.required.vram]
base_mb = 10
per_unit_mb = 100
unit = "n"
[tasks.flat]
argv = ["x"]
[tasks.flat.vram]
base_mb = 5000
)",
                              "/bin");
  ASSERT_TRUE(c) << c.error().message;
  RuleRange grid = reservation_range(*c->find("grid"));
  EXPECT_EQ(grid.least_mb, 1000 + 33);  // 32^3 / 1000, rounded up
  EXPECT_EQ(grid.default_mb, 1000 + 16778);
  RuleRange required = reservation_range(*c->find("required"));
  EXPECT_EQ(required.least_mb, 210);
  EXPECT_EQ(required.default_mb, std::nullopt);
  RuleRange flat = reservation_range(*c->find("flat"));
  EXPECT_EQ(flat.least_mb, 5000);
  EXPECT_EQ(flat.default_mb, 5000);
}

TEST(TaskCatalog, WorkerTasks) {
  constexpr std::string_view kWorkers = R"(
[tasks.mesh]
[tasks.mesh.worker]
argv = ["{bin_dir}/serve-mesh", "--fp16"]
keep_alive_s = -1
max_workers = 2
setup_timeout_s = 120
requeue_on_restart = false
[tasks.mesh.params]
steps = { type = "int", min = 1, max = 100, default = 20 }
[tasks.mesh.vram]
base_mb = 6144

[tasks.plain]
argv = ["/bin/true"]
[tasks.plain.worker]
argv = ["/opt/w"]
[tasks.plain.vram]
base_mb = 1
)";
  auto c = TaskCatalog::parse(kWorkers, "/usr/lib/vramq");
  ASSERT_TRUE(c) << c.error().message;
  const TaskDef* t = c->find("mesh");
  ASSERT_TRUE(t->worker);
  EXPECT_EQ(t->worker->argv, (std::vector<std::string>{"/usr/lib/vramq/serve-mesh", "--fp16"}));
  EXPECT_EQ(t->worker->keep_alive_s, -1);
  EXPECT_EQ(t->worker->max_workers, 2);
  EXPECT_EQ(t->worker->setup_timeout_s, 120);
  EXPECT_FALSE(t->worker->requeue_on_restart);
  EXPECT_EQ(t->argv, t->worker->argv) << "no argv of its own: its jobs show the worker's";
  const TaskDef* d = c->find("plain");
  EXPECT_EQ(d->worker->keep_alive_s, 300);
  EXPECT_EQ(d->worker->max_workers, 1);
  EXPECT_EQ(d->worker->setup_timeout_s, 600);
  EXPECT_TRUE(d->worker->requeue_on_restart);
  EXPECT_FALSE(c->find("mesh")->params.empty());

  struct Bad {
    std::string worker;
    std::string says;
  };
  for (const Bad& b : std::vector<Bad>{
           {R"(argv = ["/w", "{steps}"])", "takes no placeholders"},
           {R"(argv = [])", "tasks.t.worker: argv must be a non-empty"},
           {R"(argv = ["/w"]
max_workers = 0)",
            "tasks.t.worker.max_workers: must be from 1"},
           {R"(argv = ["/w"]
keep_alive_s = -2)",
            "tasks.t.worker.keep_alive_s"},
           {R"(argv = ["/w"]
keep_alive_s = 1.5)",
            "must be an integer"},
           {R"(argv = ["/w"]
requeue_on_restart = 1)",
            "must be true or false"},
           {R"(argv = ["/w"]
replicas = 2)",
            "replicas"},
       }) {
    std::string text = fmt::format(R"(
[tasks.t]
[tasks.t.worker]
{}
[tasks.t.params]
steps = {{ type = "int", default = 1 }}
[tasks.t.vram]
base_mb = 1
)",
                                   b.worker);
    auto r = TaskCatalog::parse(text, "/b");
    ASSERT_FALSE(r) << b.worker;
    EXPECT_NE(r.error().message.find(b.says), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace vramq::core

namespace vramq::core {
namespace {

constexpr std::string_view kFileCatalog = R"(
[tasks.mesh]
argv = ["mesh", "{image}", "{mask}", "{job_dir}"]
[tasks.mesh.params]
image = { type = "file", max_bytes = 1000, media_types = ["image/png", "image/*"] }
mask = { type = "file", default = "/srv/masks/none.png" }
[tasks.mesh.vram]
base_mb = 100
)";

// A file parameter's limits are read and checked; its value comes from the upload (the path it
// will have), never from a client's string; a missing one takes its default or is required.
TEST(TaskCatalog, FileParametersTakeUploadsWithTheirLimits) {
  auto c = TaskCatalog::parse(kFileCatalog, "/bin");
  ASSERT_TRUE(c) << c.error().message;
  const TaskDef* t = c->find("mesh");
  const ParamDef& image = t->params[0];
  EXPECT_EQ(image.type, ParamType::file);
  EXPECT_EQ(image.max_bytes, 1000);
  EXPECT_TRUE(check_upload_size(image, 1000));
  ASSERT_FALSE(check_upload_size(image, 1001));
  EXPECT_EQ(check_upload_size(image, 1001).error().message,
            "params.image: the file is over its limit of 1000 bytes");
  EXPECT_TRUE(check_upload_type(image, "image/gif"));
  ASSERT_FALSE(check_upload_type(image, "text/plain"));
  EXPECT_NE(check_upload_type(image, "text/plain")
                .error()
                .message.find("is text/plain by its "
                              "content"),
            std::string::npos);
  EXPECT_TRUE(check_upload_type(t->params[1], "application/octet-stream"));  // no list: any

  std::map<std::string, std::string, std::less<>> files{{"image", "/d/jobs/7/inputs/image"}};
  auto r = resolve_task(*t, {}, "/d/jobs/7", 7, {}, files);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->argv, (std::vector<std::string>{"mesh", "/d/jobs/7/inputs/image",
                                               "/srv/masks/none.png", "/d/jobs/7"}));
  auto named = resolve_task(*t, {{"image", ParamInput{std::string("/etc/shadow")}}}, "/d", 7);
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().field, "params.image");
  EXPECT_NE(named.error().message.find("upload it with the job"), std::string::npos);
  auto missing = resolve_task(*t, {}, "/d", 7);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "is required: upload a file as the part 'image'");
  files.emplace("nope", "/x");
  EXPECT_EQ(resolve_task(*t, {}, "/d", 7, {}, files).error().field, "params.nope");
}

TEST(TaskCatalog, FileLimitsAreCheckedAtLoad) {
  auto error_of = [](std::string_view params) {
    auto c = TaskCatalog::parse(
        fmt::format(
            "[tasks.t]\nargv = [\"x\"]\n[tasks.t.params]\n{}\n[tasks.t.vram]\nbase_mb = 1\n",
            params),
        "/bin");
    return c ? std::string() : c.error().message;
  };
  EXPECT_EQ(error_of("f = { type = \"file\", media_types = [\"image/png\"], max_bytes = 5 }"), "");
  EXPECT_NE(error_of("f = { type = \"file\", media_types = [\"PNG\"] }").find("not a media type"),
            std::string::npos);
  EXPECT_NE(error_of("f = { type = \"file\", max_bytes = 0 }").find("max_bytes"),
            std::string::npos);
  EXPECT_NE(error_of("n = { type = \"int\", max_bytes = 5 }").find("are for type = \"file\""),
            std::string::npos);
  EXPECT_NE(error_of("f = { type = \"file\", default = \"rel/x.png\" }").find("absolute path"),
            std::string::npos);
  for (const char* name : {"\"..\"", "\"a/b\"", "\"../x\"", "\"a b\""}) {
    EXPECT_NE(error_of(fmt::format("{} = {{ type = \"file\" }}", name)).find("letters, digits"),
              std::string::npos)
        << name;
  }
}

}  // namespace
}  // namespace vramq::core

namespace vramq::core {
namespace {

TEST(TaskCatalog, ScriptsBesideTheCatalogAreNamedWithCatalogDir) {
  auto c = TaskCatalog::parse(R"(
[tasks.t]
argv = ["python3", "{catalog_dir}/run.py", "{bin_dir}/helper"]
cwd = "{catalog_dir}"
[tasks.t.vram]
base_mb = 1
[tasks.w.worker]
argv = ["python3", "{catalog_dir}/worker.py"]
[tasks.w.vram]
base_mb = 1
)",
                              "/usr/lib/vramq", "/srv/catalog");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->find("t")->argv,
            (std::vector<std::string>{"python3", "/srv/catalog/run.py", "/usr/lib/vramq/helper"}));
  EXPECT_EQ(c->find("t")->cwd, "/srv/catalog");
  EXPECT_EQ(c->find("w")->worker->argv[1], "/srv/catalog/worker.py");
}

}  // namespace
}  // namespace vramq::core
