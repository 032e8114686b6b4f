// The supervisor launcher (exec/launcher.hpp) through the server's client, with the real
// vramq-supervise: what it forks is a supervisor in its own session that runs the job and
// outlives the launcher; a launcher that dies is replaced; one that stalls is killed and its
// request reported as unknown; what it cannot take is refused with nothing started.
#include "exec/launcher_client.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "exec/spawn.hpp"
#include "exec/supervisor_protocol.hpp"
#include "exec/supervisor_seam.hpp"
#include "temp_dir.hpp"
#include "util/unique_fd.hpp"

namespace vramq::exec {
namespace {

namespace fs = std::filesystem;
using util::UniqueFd;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// /proc/PID/stat's fields after the name: state, ppid, pgrp, session.
struct Stat {
  char state = '?';
  pid_t ppid = 0;
  pid_t session = 0;
};
std::optional<Stat> stat_of(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = text.rfind(')');
  if (text.empty() || close == std::string::npos) return std::nullopt;
  Stat s;
  int pgrp = 0;
  if (std::sscanf(text.c_str() + close + 2, "%c %d %d %d", &s.state, &s.ppid, &pgrp, &s.session) !=
      4) {
    return std::nullopt;
  }
  return s;
}

bool dead(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    std::optional<Stat> s = stat_of(pid);
    if (!s || s->state == 'Z') return true;
    ::usleep(10'000);
  }
  return false;
}

class LauncherClientTest : public ::testing::Test {
 protected:
  // One run's request: a job running `script` in the test's directory, its record in run-N, its
  // output in out-N (N counts the runs of a test from 1).
  struct Run {
    UniqueFd ours;    // the attach socket's server end
    UniqueFd theirs;  // the supervisor's end (sent, then closed here)
    UniqueFd run_file;
    LaunchRequest request;
  };
  Run run(const std::string& script) {
    Run r;
    std::string n = std::to_string(++runs_);
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    r.ours.reset(pair[0]);
    r.theirs.reset(pair[1]);
    r.run_file.reset(::open((dir_ / ("run-" + n)).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    EXPECT_EQ(::flock(r.run_file.get(), LOCK_EX | LOCK_NB), 0);
    std::vector<std::string> args =
        supervisor_command(VRAMQ_SUPERVISOR_PATH, {.run_fd = 4,
                                                   .job = 7,
                                                   .attempt = 1,
                                                   .gpus = "0",
                                                   .orphan_grace_ms = 60'000,
                                                   .kill_grace_ms = 1000,
                                                   .program = "/bin/sh",
                                                   .argv = {"sh", "-c", script},
                                                   .cwd = dir_.string(),
                                                   .stdout_path = (dir_ / ("out-" + n)).string(),
                                                   .stderr_path = (dir_ / ("err-" + n)).string(),
                                                   .attach_fd = 3});
    args.erase(args.begin());
    r.request = {.args = std::move(args), .env = {"PATH=/usr/bin:/bin", "GREETING=hi"}};
    return r;
  }

  // The records the supervisor sends until the one that ends the run (nullopt: none came).
  static std::optional<SupervisorRecord> ended(int fd) {
    std::string text;
    char buf[4096];
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    while (::poll(&p, 1, 10'000) == 1) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
      for (std::size_t end; (end = text.find("\n\n")) != std::string::npos;) {
        std::optional<SupervisorRecord> r = parse_record(text.substr(0, end + 1));
        text.erase(0, end + 2);
        if (r && r->ended) return r;
      }
    }
    return std::nullopt;
  }

  testing::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
  int runs_ = 0;
};

TEST_F(LauncherClientTest, ForksASupervisorInItsOwnSessionThatRunsTheJob) {
  LauncherClient launcher(VRAMQ_SUPERVISOR_PATH, dir_.string());
  Run r = run("sleep 0.3; echo $GREETING; exit 3");
  const int fds[] = {r.theirs.get(), r.run_file.get()};
  LauncherClient::Result got = launcher.launch(r.request, fds);
  ASSERT_EQ(got.outcome, LauncherClient::Outcome::forked) << got.why;
  r.theirs.reset();
  // Forked by the launcher, not exec'd by this process; in a session (and process group) of its
  // own by the time the answer comes: the server may signal the group at once.
  std::optional<Stat> s = stat_of(got.pid);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->ppid, launcher.pid());
  EXPECT_EQ(s->session, got.pid);
  EXPECT_EQ(::getpgid(got.pid), got.pid);
  std::optional<SupervisorRecord> end = ended(r.ours.get());
  ASSERT_TRUE(end);
  EXPECT_EQ(end->supervisor_pid, got.pid);
  EXPECT_EQ(end->exit_code, 3);
  EXPECT_EQ(read_file(dir_ / "out-1"), "hi\n");
  // The record is in the run file too, whose lock the supervisor held.
  std::optional<SupervisorRecord> on_file = parse_record(read_file(dir_ / "run-1"));
  ASSERT_TRUE(on_file);
  EXPECT_TRUE(on_file->ended);
  EXPECT_EQ(launcher.counts().forked, 1u);
  EXPECT_EQ(launcher.counts().starts, 1u);
}

TEST_F(LauncherClientTest, AForkedSupervisorsJobGetsWhatAnExecdOnesGets) {
  // The job's descriptors (3 is ls's own directory) and its blocked and ignored signals, under a
  // forked supervisor and under a spawned one (the launcher ignores SIGCHLD and SIGPIPE, and
  // its socket to the server is its fd 3: none of that may reach a job).
  const std::string script =
      "ls /proc/self/fd | tr '\\n' ' '; grep -E '^Sig(Blk|Ign)' /proc/self/status";
  LauncherClient launcher(VRAMQ_SUPERVISOR_PATH, dir_.string());
  Run forked = run(script);
  const int fds[] = {forked.theirs.get(), forked.run_file.get()};
  ASSERT_EQ(launcher.launch(forked.request, fds).outcome, LauncherClient::Outcome::forked);
  forked.theirs.reset();
  ASSERT_TRUE(ended(forked.ours.get()));
  Run spawned = run(script);
  std::vector<std::string> args = spawned.request.args;
  args.insert(args.begin(), VRAMQ_SUPERVISOR_PATH);
  const int spawn_fds[] = {spawned.theirs.get(), spawned.run_file.get()};
  pid_t pid = 0;
  ASSERT_EQ(spawn_detached(args, spawned.request.env, spawn_fds, pid), 0);
  spawned.theirs.reset();
  ASSERT_TRUE(ended(spawned.ours.get()));
  std::string out = read_file(dir_ / "out-1");
  EXPECT_EQ(out, read_file(dir_ / "out-2"));
  EXPECT_TRUE(out.starts_with("0 1 2 3 SigBlk:\t0000000000000000\n")) << out;
}

TEST_F(LauncherClientTest, ASupervisorOutlivesItsLauncherWhichIsReplaced) {
  LauncherClient launcher(VRAMQ_SUPERVISOR_PATH, dir_.string());
  Run r = run("sleep 0.5; echo done");
  const int fds[] = {r.theirs.get(), r.run_file.get()};
  LauncherClient::Result got = launcher.launch(r.request, fds);
  ASSERT_EQ(got.outcome, LauncherClient::Outcome::forked) << got.why;
  r.theirs.reset();
  pid_t first = launcher.pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(dead(first));
  // The next launch notices. This launcher died young (under a second): the next is started
  // only once a second has passed, and meanwhile nothing is forked (the caller spawns).
  Run next = run("exit 0");
  const int next_fds[] = {next.theirs.get(), next.run_file.get()};
  EXPECT_EQ(launcher.launch(next.request, next_fds).outcome, LauncherClient::Outcome::not_forked);
  EXPECT_EQ(launcher.counts().starts, 1u);
  std::optional<SupervisorRecord> end = ended(r.ours.get());
  ASSERT_TRUE(end);
  EXPECT_EQ(end->exit_code, 0);
  EXPECT_EQ(read_file(dir_ / "out-1"), "done\n");
  ::usleep(1'100'000);
  EXPECT_EQ(launcher.launch(next.request, next_fds).outcome, LauncherClient::Outcome::forked);
  EXPECT_NE(launcher.pid(), first);
  EXPECT_EQ(launcher.counts().starts, 2u);
}

TEST_F(LauncherClientTest, AStalledLauncherIsKilledAndItsRequestIsUnknown) {
  LauncherClient launcher(VRAMQ_SUPERVISOR_PATH, dir_.string(), std::chrono::milliseconds(300));
  Run warm = run("exit 0");
  const int warm_fds[] = {warm.theirs.get(), warm.run_file.get()};
  ASSERT_EQ(launcher.launch(warm.request, warm_fds).outcome, LauncherClient::Outcome::forked);
  ASSERT_TRUE(ended(warm.ours.get()));
  pid_t stalled = launcher.pid();
  ASSERT_EQ(::kill(stalled, SIGSTOP), 0);
  Run r = run("echo ran");
  const int fds[] = {r.theirs.get(), r.run_file.get()};
  LauncherClient::Result got = launcher.launch(r.request, fds);
  EXPECT_EQ(got.outcome, LauncherClient::Outcome::unknown);
  EXPECT_EQ(launcher.pid(), 0);
  EXPECT_TRUE(dead(stalled));
  // It never forked: once this end lets go, nothing holds the attach socket's other end.
  r.theirs.reset();
  pollfd p{.fd = r.ours.get(), .events = POLLIN, .revents = 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  char c = 0;
  EXPECT_EQ(::read(r.ours.get(), &c, 1), 0);
  EXPECT_FALSE(fs::exists(dir_ / "out-2"));
  EXPECT_EQ(launcher.counts().unknown, 1u);
}

TEST_F(LauncherClientTest, WhatItCannotTakeIsRefusedWithNothingStarted) {
  LauncherClient launcher(VRAMQ_SUPERVISOR_PATH, dir_.string());
  Run r = run("echo ran");
  const int fds[] = {r.theirs.get(), r.run_file.get()};
  // Too large for one message: refused before any launcher is started.
  LaunchRequest huge = r.request;
  huge.env.push_back("BIG=" + std::string(kMaxLaunchRequestBytes, 'x'));
  EXPECT_EQ(launcher.launch(huge, fds).outcome, LauncherClient::Outcome::not_forked);
  EXPECT_EQ(launcher.counts().starts, 0u);
  // Without its run file: the launcher refuses it (EINVAL) and forks nothing.
  LauncherClient::Result got = launcher.launch(r.request, std::span<const int>(fds, 1));
  EXPECT_EQ(got.outcome, LauncherClient::Outcome::not_forked);
  EXPECT_NE(got.why.find("Invalid argument"), std::string::npos) << got.why;
  EXPECT_EQ(launcher.counts().starts, 1u);
  EXPECT_EQ(launcher.counts().not_forked, 2u);
  EXPECT_FALSE(fs::exists(dir_ / "out-1"));
}

TEST_F(LauncherClientTest, NoLauncherMeansNotForkedAndNoRetryForASecond) {
  LauncherClient launcher((dir_ / "no-such-binary").string(), dir_.string());
  Run r = run("echo ran");
  const int fds[] = {r.theirs.get(), r.run_file.get()};
  LauncherClient::Result got = launcher.launch(r.request, fds);
  EXPECT_EQ(got.outcome, LauncherClient::Outcome::not_forked);
  EXPECT_EQ(launcher.launch(r.request, fds).outcome, LauncherClient::Outcome::not_forked);
  EXPECT_EQ(launcher.counts().starts, 0u);
  EXPECT_EQ(launcher.counts().not_forked, 2u);
}

}  // namespace
}  // namespace vramq::exec
