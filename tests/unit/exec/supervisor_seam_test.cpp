#include "exec/supervisor_seam.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/proc_stat.hpp"

namespace vramq::exec {
namespace {

SupervisorOptions job_run() {
  return {.run_fd = 4,
          .job = 42,
          .attempt = 3,
          .started_at_ms = 1'796'650'728'123,
          .gpus = "0,1",
          .orphan_grace_ms = 60'000,
          .kill_grace_ms = 2'500,
          .program = "/usr/bin/python3",
          .argv = {"python3", "--job", "7", "--", "a b"},  // options of the job's own
          .cwd = "/srv/work dir",
          .stdout_path = "/data/jobs/42/stdout.log",
          .stderr_path = "/data/jobs/42/stderr.log",
          .attach_fd = 3,
          .log_limit_bytes = 1 << 30,
          .log_mode = 0640,
          .job_umask = 027};
}

std::vector<std::string> without_binary(std::vector<std::string> command) {
  EXPECT_EQ(command.at(0), "/opt/vramq/vramq-supervise");
  command.erase(command.begin());
  return command;
}

TEST(SupervisorCommand, WhatTheServerBuildsTheSupervisorReadsBack) {
  SupervisorOptions worker = job_run();
  worker.job = -5;  // a warm worker's run has no job of its own
  worker.orphan_grace_ms = 0;
  worker.stdout_path.clear();
  worker.stdio_fd = 5;
  worker.job_umask = -1;
  SupervisorOptions as_user = job_run();
  as_user.uid = 65534;
  as_user.gid = 65534;
  as_user.groups = {65534, 44, 0};
  SupervisorOptions no_groups = as_user;
  no_groups.groups.clear();
  for (const SupervisorOptions& o : {job_run(), worker, as_user, no_groups}) {
    ParsedOptions parsed =
        parse_supervisor_args(without_binary(supervisor_command("/opt/vramq/vramq-supervise", o)));
    EXPECT_EQ(parsed.error, "");
    EXPECT_EQ(parsed.options, o);
  }
}

TEST(SupervisorCommand, RefusesWhatTheServerNeverBuilds) {
  auto error_of = [](std::vector<std::string> args) { return parse_supervisor_args(args).error; };
  std::vector<std::string> good =
      without_binary(supervisor_command("/opt/vramq/vramq-supervise", job_run()));
  ASSERT_EQ(error_of(good), "");
  EXPECT_EQ(error_of({"--job"}), "missing value for --job");
  EXPECT_EQ(error_of({"--jobs", "1"}), "unknown option --jobs");
  auto with = [&](const std::string& option, const std::string& value) {
    std::vector<std::string> args = good;
    for (std::size_t i = 0; i + 1 < args.size() && args[i] != "--"; i += 2) {
      if (args[i] == option) args[i + 1] = value;
    }
    return error_of(args);
  };
  EXPECT_EQ(with("--job", "12x"), "a number option is not a number");
  EXPECT_EQ(with("--log-mode", "0999"), "a number option is not a number");  // not octal
  EXPECT_EQ(with("--umask", "1000"), "a number option is not a number");     // past 0777
  for (auto [option, value] : {std::pair{"--job", "0"},
                               {"--attempt", "0"},
                               {"--program", ""},
                               {"--stderr", ""},
                               {"--stdout", ""},
                               {"--run-fd", "-1"}}) {
    EXPECT_NE(with(option, value).find("usage: vramq-supervise"), std::string::npos) << option;
  }
  // A user is a uid, a gid and groups, each an id; never (uid_t)-1, which means "leave it".
  std::vector<std::string> user = good;
  user.insert(std::find(user.begin(), user.end(), "--"),
              {"--uid", "1000", "--gid", "1000", "--groups", "1000,27"});
  EXPECT_EQ(error_of(user), "");
  auto user_with = [&](const std::string& option, const std::string& value) {
    std::vector<std::string> args = user;
    for (std::size_t i = 0; i + 1 < args.size() && args[i] != "--"; i += 2) {
      if (args[i] == option) args[i + 1] = value;
    }
    return error_of(args);
  };
  for (auto [option, value] : {std::pair{"--uid", "-1"},
                               {"--gid", "-1"},
                               {"--uid", "4294967295"},
                               {"--gid", "4294967296"},
                               {"--groups", "1000,-1"}}) {
    EXPECT_NE(user_with(option, value).find("usage: vramq-supervise"), std::string::npos)
        << option << " " << value;
  }
  EXPECT_EQ(user_with("--groups", "1000,,2"), "a number option is not a number");
  std::vector<std::string> groups_alone = good;
  groups_alone.insert(std::find(groups_alone.begin(), groups_alone.end(), "--"),
                      {"--groups", "1000"});
  EXPECT_NE(error_of(groups_alone).find("usage:"), std::string::npos);
  std::vector<std::string> no_argv(good.begin(), std::find(good.begin(), good.end(), "--") + 1);
  EXPECT_NE(error_of(no_argv).find("usage:"), std::string::npos);
}

TEST(SupervisorSocket, AbstractAddressesHaveNoFileAndAFittingName) {
  EXPECT_FALSE(abstract_address(""));
  std::optional<SocketAddress> a = abstract_address("vramq-0123456789abcdef");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->addr.sun_family, AF_UNIX);
  EXPECT_EQ(a->addr.sun_path[0], '\0');
  EXPECT_EQ(std::string(a->addr.sun_path + 1, 22), "vramq-0123456789abcdef");
  EXPECT_EQ(a->size, offsetof(sockaddr_un, sun_path) + 23);
  std::size_t room = sizeof(sockaddr_un{}.sun_path) - 1;
  EXPECT_TRUE(abstract_address(std::string(room, 'x')));
  EXPECT_FALSE(abstract_address(std::string(room + 1, 'x')));
}

TEST(SupervisorSocket, PeersAreCheckedByUserAndByProcess) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::optional<std::int64_t> ticks = util::process_start_ticks(::getpid());
  ASSERT_TRUE(ticks);
  EXPECT_TRUE(peer_is_same_user(fds[0]));
  EXPECT_TRUE(peer_is_process(fds[0], ::getpid(), *ticks));
  EXPECT_FALSE(peer_is_process(fds[0], ::getpid(), *ticks + 1));  // a PID reused since
  EXPECT_FALSE(peer_is_process(fds[0], ::getppid(), *ticks));
  EXPECT_FALSE(peer_is_process(fds[0], 0, 0));
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_FALSE(peer_is_same_user(-1));
  EXPECT_FALSE(peer_is_process(-1, ::getpid(), *ticks));
}

}  // namespace
}  // namespace vramq::exec
