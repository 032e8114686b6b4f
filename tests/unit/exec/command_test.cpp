// Running the Slurm tools: output captured, exit codes and signals told apart, a command that
// does not answer killed with everything it started, one that cannot start or whose exit
// status is lost (SIGCHLD ignored) never taken for a success.
#include "exec/command.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace vramq::exec {
namespace {

using namespace std::chrono_literals;
using Argv = std::vector<std::string>;

TEST(Command, CapturesBothStreamsAndTheExitCode) {
  Argv argv{"sh", "-c", "echo out; echo err >&2; exit 3"};
  CommandResult r = run_command(argv, {}, 10s);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.first_error_line(), "err");
  EXPECT_EQ(r.failure(), "exit code 3: err");
}

TEST(Command, TheEnvironmentIsTheOneGiven) {
  Argv argv{"/bin/sh", "-c", "echo \"$ONLY_THIS\"; echo \"${HOME:-none}\""};
  Argv env{"ONLY_THIS=yes"};
  CommandResult r = run_command(argv, env, 10s);
  ASSERT_TRUE(r.ok()) << r.failure();
  EXPECT_EQ(r.out, "yes\nnone\n");
}

TEST(Command, ASignalIsNotAnExitCode) {
  Argv argv{"sh", "-c", "kill -TERM $$"};
  CommandResult r = run_command(argv, {}, 10s);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_FALSE(r.ok());
}

TEST(Command, ATimeoutKillsTheCommandAndWhatItStarted) {
  Argv argv{"sh", "-c", "sleep 30 & echo $!; sleep 30"};
  auto began = std::chrono::steady_clock::now();
  CommandResult r = run_command(argv, {}, 300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 10s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failure(), "no answer in time (killed)");
  // What it started went with it (a zombie waiting for its reaper counts as gone).
  pid_t started = static_cast<pid_t>(std::stol(r.out));
  auto gone = [&] {
    std::ifstream stat("/proc/" + std::to_string(started) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    return text.empty() || text.substr(text.rfind(')') + 2, 1) == "Z";
  };
  for (int i = 0; i < 100 && !gone(); ++i)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(gone()) << "pid " << started << " still runs";
  if (!gone()) ::kill(started, SIGKILL);
}

TEST(Command, AMissingProgramIsASpawnError) {
  Argv argv{"vramq-no-such-tool"};
  CommandResult r = run_command(argv, {}, 10s);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.spawn_error.find("cannot run vramq-no-such-tool"), std::string::npos);
}

TEST(Command, OutputBeyondTheCapIsDropped) {
  Argv argv{"sh", "-c", "head -c 100000 /dev/zero"};
  CommandResult r = run_command(argv, {}, 10s, 1000);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out.size(), 1000U);
}

TEST(Command, ALostExitStatusIsNoSuccess) {
  // With SIGCHLD ignored the kernel reaps the child and its status is gone.
  struct sigaction old {};
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGCHLD, &ignore, &old);
  Argv argv{"true"};
  CommandResult r = run_command(argv, {}, 10s);
  sigaction(SIGCHLD, &old, nullptr);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.spawn_error.find("exit status cannot be read"), std::string::npos);
}

}  // namespace
}  // namespace vramq::exec
