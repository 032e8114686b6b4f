#include "exec/local_executor.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "util/proc_stat.hpp"
#include "util/unix_user.hpp"

namespace vramq::exec {
namespace {

namespace fs = std::filesystem;
using util::kill_group_if_same;
using util::process_start_ticks;

class LocalExecutorTest : public ::testing::Test {
 protected:
  LaunchSpec spec(std::vector<std::string> argv) {
    return {.job = ++next_,
            .argv = std::move(argv),
            .cwd = dir_.string(),
            .env = {"PATH=/usr/bin:/bin", "GREETING=hi"},
            .stdout_path = (dir_ / "out").string(),
            .stderr_path = (dir_ / "err").string()};
  }

  // Runs the loop until the job's exit is reported.
  ExitStatus run(LocalExecutor& ex, const LaunchSpec& s) {
    std::optional<ExitStatus> status;
    auto launched = ex.start(s, [&](ExitStatus st) { status = st; });
    EXPECT_TRUE(launched);
    if (!launched) return {};
    EXPECT_GT(launched->pid, 0);
    while (!status)
      ioc_.run_one();
    return *status;
  }

  LocalExecutorOptions options(std::int64_t orphan_grace_ms = 60'000) {
    return {.run_dir = (dir_ / "run").string(),
            .supervisor = VRAMQ_SUPERVISOR_PATH,
            .orphan_grace_ms = orphan_grace_ms,
            .kill_grace_ms = 1000};
  }

  std::string read(const char* name) {
    std::ifstream in(dir_ / name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
  boost::asio::io_context ioc_;
  // Keeps run_one() blocking until a completion arrives instead of returning on an idle loop.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(ioc_);
  core::JobId next_ = 0;
};

TEST_F(LocalExecutorTest, ExitCodeStdoutStderrCwdAndEnvironment) {
  LocalExecutor ex(ioc_.get_executor(), options());
  ExitStatus st = run(ex, spec({"/bin/sh", "-c", "echo $GREETING; pwd; echo oops >&2; exit 7"}));
  EXPECT_EQ(st.exit_code, 7);
  EXPECT_FALSE(st.signal);
  EXPECT_EQ(read("out"), "hi\n" + dir_.string() + "\n");
  EXPECT_EQ(read("err"), "oops\n");
  EXPECT_EQ(ex.running(), 0u);
}

TEST_F(LocalExecutorTest, ALogStopsExactlyAtItsCapAndTheJobIsStopped) {
  LocalExecutorOptions o = options();
  o.log_limit_bytes = 100'000;
  LocalExecutor ex(ioc_.get_executor(), o);
  // As fast as it can, far past the cap (bounded, so that a broken cap fails, not fills a disk).
  ExitStatus st = run(ex, spec({"/bin/sh", "-c", "exec head -c 50000000 /dev/zero"}));
  EXPECT_EQ(st.log_limit, "stdout");
  EXPECT_EQ(st.log_limit_bytes, 100'000);
  EXPECT_EQ(st.signal, SIGTERM);
  std::string out = read("out");
  std::size_t note = out.find("\n[vramq] stdout.log reached its limit of 100000 bytes");
  EXPECT_EQ(note, 100'000u) << "the log holds exactly the cap, then the note";
  EXPECT_LT(out.size(), 100'300u);
}

TEST_F(LocalExecutorTest, LogsAreTheJobsOutputWhole) {
  LocalExecutorOptions o = options();
  o.log_limit_bytes = 3'000'000;
  LocalExecutor ex(ioc_.get_executor(), o);
  // Far more than a pipe holds: every byte arrives, in order, before the end is reported.
  ExitStatus st = run(
      ex, spec({"/bin/sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' x; echo; echo done >&2"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_TRUE(st.log_limit.empty());
  EXPECT_EQ(read("out"), std::string(2'000'000, 'x') + "\n");
  EXPECT_EQ(read("err"), "done\n");
  EXPECT_EQ(fs::status(dir_ / "out").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

// As root (CI), a job runs as the user it is given, with that user's groups, for good; its
// supervisor stays root (it writes the logs the job cannot reach).
TEST_F(LocalExecutorTest, AJobRunsAsItsUserWithNoWayBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing user needs root";
  auto nobody = util::lookup_unix_user("nobody");
  ASSERT_TRUE(nobody) << nobody.error().message;
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::others_exec);
  fs::create_directory(dir_ / "job");
  ASSERT_FALSE(util::give_dir((dir_ / "job").string(), nobody->uid, nobody->gid));
  LocalExecutor ex(ioc_.get_executor(), options());
  LaunchSpec s = spec({"/bin/sh", "-c",
                       "id -u; id -g; id -G; cat /proc/self/status | grep -E '^(Uid|Gid)'; "
                       "touch mine && stat -c %u mine; cat ../err 2>/dev/null || echo denied"});
  s.cwd = (dir_ / "job").string();
  s.user = *nobody;
  ExitStatus st = run(ex, s);
  EXPECT_EQ(st.exit_code, 0) << read("err");
  std::string id = std::to_string(nobody->uid);
  std::string gid = std::to_string(nobody->gid);
  EXPECT_EQ(read("out"), id + "\n" + gid + "\n" + gid + "\nUid:\t" + id + "\t" + id + "\t" + id +
                             "\t" + id + "\nGid:\t" + gid + "\t" + gid + "\t" + gid + "\t" + gid +
                             "\n" + id + "\ndenied\n")
      << "real, effective, saved and filesystem ids all the user's; no root group left";
  EXPECT_EQ(fs::status(dir_ / "out").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(LocalExecutorTest, ArgvIsNotInterpretedByAShell) {
  LocalExecutor ex(ioc_.get_executor(), options());
  ExitStatus st = run(ex, spec({"/bin/echo", "$HOME", "a;b", "`id`"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(read("out"), "$HOME a;b `id`\n");
}

TEST_F(LocalExecutorTest, SpawnFailureIsAValueNamingTheProgram) {
  LocalExecutor ex(ioc_.get_executor(), options());
  auto r = ex.start(spec({"/nonexistent/prog"}), [](ExitStatus) { FAIL() << "no exit expected"; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value, ENOENT);
  EXPECT_NE(r.error().message.find("/nonexistent/prog"), std::string::npos);
  LaunchSpec bad_cwd = spec({"/bin/true"});
  bad_cwd.cwd = "/nonexistent-dir";
  EXPECT_FALSE(ex.start(bad_cwd, [](ExitStatus) {}));
  EXPECT_FALSE(ex.start(spec({}), [](ExitStatus) {}));
}

TEST_F(LocalExecutorTest, SignalReachesTheWholeGroupAndStragglersAreKilledAtExit) {
  LocalExecutor ex(ioc_.get_executor(), options());
  // The job starts a helper in its group and records its pid, then waits.
  LaunchSpec s = spec({"/bin/sh", "-c", "sleep 300 & echo $! > helper.pid; wait"});
  std::optional<ExitStatus> status;
  auto launched = ex.start(s, [&](ExitStatus st) { status = st; });
  ASSERT_TRUE(launched);
  while (!fs::exists(dir_ / "helper.pid") || read("helper.pid").empty())
    ::usleep(10'000);
  pid_t helper = std::stoi(read("helper.pid"));
  EXPECT_TRUE(process_start_ticks(helper));
  ex.signal_group(s.job, SIGKILL);
  while (!status)
    ioc_.run_one();
  EXPECT_EQ(status->signal, SIGKILL);
  // The helper got the signal too (it may linger as a zombie of init for a moment).
  for (int i = 0; i < 200 && ::kill(helper, 0) == 0; ++i) {
    std::ifstream stat("/proc/" + std::to_string(helper) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (text.empty() || text.substr(text.rfind(')') + 2, 1) == "Z") break;
    ::usleep(10'000);
  }
  std::ifstream stat("/proc/" + std::to_string(helper) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(text.empty() || text.substr(text.rfind(')') + 2, 1) == "Z") << text;
}

TEST_F(LocalExecutorTest, KillGroupIfSameRefusesAReusedPid) {
  LocalExecutor ex(ioc_.get_executor(), options());
  LaunchSpec s = spec({"/bin/sleep", "300"});
  std::optional<ExitStatus> status;
  auto launched = ex.start(s, [&](ExitStatus st) { status = st; });
  ASSERT_TRUE(launched);
  EXPECT_FALSE(kill_group_if_same(launched->pid, launched->start_ticks + 1));
  // Killing the supervisor itself: the job dies with it, and the end says nothing was recorded.
  EXPECT_TRUE(kill_group_if_same(launched->pid, launched->start_ticks));
  while (!status)
    ioc_.run_one();
  EXPECT_FALSE(status->lost.empty());
}

// Waits for a pid the job wrote to `name`.
pid_t wait_pid_file(const fs::path& path) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream in(path);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    ::usleep(10'000);
  }
  return 0;
}

bool gone(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    if (text.empty() || text.substr(text.rfind(')') + 2, 1) == "Z") return true;
    ::usleep(10'000);
  }
  return false;
}

TEST_F(LocalExecutorTest, DescendantsInTheirOwnSessionEndWithTheJob) {
  LocalExecutor ex(ioc_.get_executor(), options());
  // setsid leaves the job's process group and session; the double fork leaves its parent.
  ExitStatus st =
      run(ex, spec({"/bin/sh", "-c",
                    "setsid sleep 300 & echo $! > escaped.pid; "
                    "(sh -c 'sleep 300 & echo $! > orphan.pid' &); sleep 0.2; exit 0"}));
  EXPECT_EQ(st.exit_code, 0);
  pid_t escaped = wait_pid_file(dir_ / "escaped.pid");
  pid_t orphan = wait_pid_file(dir_ / "orphan.pid");
  ASSERT_GT(escaped, 0);
  ASSERT_GT(orphan, 0);
  EXPECT_TRUE(gone(escaped));
  EXPECT_TRUE(gone(orphan));
}

TEST_F(LocalExecutorTest, ANewExecutorAdoptsARunAndSignalsIt) {
  LaunchSpec s = spec({"/bin/sleep", "300"});
  s.gpus = {1};
  s.attempt = 2;
  Launched first;
  {
    LocalExecutor ex(ioc_.get_executor(), options());
    auto launched = ex.start(s, [](ExitStatus) { ADD_FAILURE() << "no exit while attached"; });
    ASSERT_TRUE(launched);
    first = *launched;
    ioc_.run_for(std::chrono::milliseconds(200));
  }  // the server goes away; the run goes on
  ioc_.restart();
  LocalExecutor next(ioc_.get_executor(), options());
  std::vector<Survivor> found = next.survivors();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].job, s.job);
  EXPECT_EQ(found[0].attempt, 2);
  EXPECT_TRUE(found[0].alive);
  EXPECT_TRUE(found[0].started);
  EXPECT_EQ(found[0].gpus, std::vector<int>{1});
  EXPECT_EQ(found[0].supervisor.pid, first.pid);
  EXPECT_EQ(found[0].supervisor.start_ticks, first.start_ticks);
  EXPECT_GT(found[0].started_at_ms, 0);
  std::optional<ExitStatus> status;
  next.adopt(found[0], [&](ExitStatus st) { status = st; });
  next.signal_group(s.job, SIGTERM);
  while (!status)
    ioc_.run_one();
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_FALSE(status->orphaned);
  next.release(s.job, 2);
  // Its slot is reused by the next run (once its supervisor has let go of it): starting jobs
  // creates no files in the run directory.
  EXPECT_TRUE(gone(first.pid));
  LaunchSpec again = spec({"/bin/true"});
  EXPECT_EQ(run(next, again).exit_code, 0);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "run"), fs::directory_iterator()), 1);
}

TEST_F(LocalExecutorTest, WithNoServerPastTheGraceTheSupervisorEndsTheJobAndSaysSo) {
  LaunchSpec s = spec({"/bin/sh", "-c", "echo $$ > job.pid; exec sleep 300"});
  {
    LocalExecutor ex(ioc_.get_executor(), options(200));
    ASSERT_TRUE(ex.start(s, [](ExitStatus) {}));
    ioc_.run_for(std::chrono::milliseconds(100));
  }
  pid_t job = wait_pid_file(dir_ / "job.pid");
  ASSERT_GT(job, 0);
  EXPECT_TRUE(gone(job));
  LocalExecutor next(ioc_.get_executor(), options());
  std::vector<Survivor> found;
  for (int i = 0; i < 200 && (found.empty() || found[0].alive); ++i) {
    ::usleep(10'000);
    found = next.survivors();
  }
  ASSERT_EQ(found.size(), 1u);
  EXPECT_FALSE(found[0].alive);
  ASSERT_TRUE(found[0].ended);
  EXPECT_TRUE(found[0].ended->orphaned);
  EXPECT_EQ(found[0].ended->signal, SIGTERM);
}

TEST_F(LocalExecutorTest, AProgramThatCannotBeExecutedIsASpawnError) {
  fs::path script = dir_ / "no-interpreter";
  std::ofstream(script) << "#!/nonexistent/interpreter\n";
  fs::permissions(script, fs::perms::owner_all);
  LocalExecutor ex(ioc_.get_executor(), options());
  ExitStatus st = run(ex, spec({script.string()}));
  EXPECT_NE(st.spawn_error.find("no-interpreter"), std::string::npos) << st.spawn_error;
}

}  // namespace
}  // namespace vramq::exec
