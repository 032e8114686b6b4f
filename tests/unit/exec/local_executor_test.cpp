#include "exec/local_executor.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>

#include "exec/process_probe.hpp"
#include "temp_dir.hpp"

namespace vramq::exec {
namespace {

namespace fs = std::filesystem;

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
  LocalExecutor ex(ioc_.get_executor());
  ExitStatus st = run(ex, spec({"/bin/sh", "-c", "echo $GREETING; pwd; echo oops >&2; exit 7"}));
  EXPECT_EQ(st.exit_code, 7);
  EXPECT_FALSE(st.signal);
  EXPECT_EQ(read("out"), "hi\n" + dir_.string() + "\n");
  EXPECT_EQ(read("err"), "oops\n");
  EXPECT_EQ(ex.running(), 0u);
}

TEST_F(LocalExecutorTest, ArgvIsNotInterpretedByAShell) {
  LocalExecutor ex(ioc_.get_executor());
  ExitStatus st = run(ex, spec({"/bin/echo", "$HOME", "a;b", "`id`"}));
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(read("out"), "$HOME a;b `id`\n");
}

TEST_F(LocalExecutorTest, SpawnFailureIsAValueNamingTheProgram) {
  LocalExecutor ex(ioc_.get_executor());
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
  LocalExecutor ex(ioc_.get_executor());
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
  LocalExecutor ex(ioc_.get_executor());
  LaunchSpec s = spec({"/bin/sleep", "300"});
  std::optional<ExitStatus> status;
  auto launched = ex.start(s, [&](ExitStatus st) { status = st; });
  ASSERT_TRUE(launched);
  EXPECT_FALSE(kill_group_if_same(launched->pid, launched->start_ticks + 1));
  EXPECT_TRUE(kill_group_if_same(launched->pid, launched->start_ticks));
  while (!status)
    ioc_.run_one();
  EXPECT_EQ(status->signal, SIGKILL);
}

TEST(ReadProcStat, ReadsThisProcess) {
  auto self = read_proc_stat(::getpid());
  ASSERT_TRUE(self);
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_EQ(self->pgid, ::getpgrp());
  EXPECT_EQ(self->comm, "vramq-unit-test");  // the kernel keeps 15 bytes of the name
  EXPECT_EQ(process_start_ticks(::getpid()), self->start_ticks);
  EXPECT_GT(self->start_ticks, 0);
  EXPECT_FALSE(read_proc_stat(0x7ffffff0));
}

TEST(ReadTail, LastBytesOnly) {
  auto path = fs::temp_directory_path() / ("vramq-tail-" + std::to_string(::getpid()));
  std::ofstream(path) << std::string(100, 'a') << "0123456789";
  EXPECT_EQ(read_tail(path.string(), 10), "0123456789");
  EXPECT_EQ(read_tail(path.string(), 1000).size(), 110u);
  EXPECT_EQ(read_tail("/nonexistent", 10), "");
  fs::remove(path);
}

}  // namespace
}  // namespace vramq::exec
