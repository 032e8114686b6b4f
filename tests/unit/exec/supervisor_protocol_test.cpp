#include "exec/supervisor_protocol.hpp"

#include <gtest/gtest.h>
#include <signal.h>

namespace vramq::exec {
namespace {

SupervisorRecord running_record() {
  return {.job = 12,
          .attempt = 2,
          .supervisor_pid = 4000,
          .supervisor_start_ticks = 123456,
          .gpus = "0,1",
          .socket = "vramq-0123456789abcdef",
          .pid = 4001,
          .pid_start_ticks = 123457,
          .started_at_ms = 1700000000000};
}

TEST(SupervisorRecord, RoundTripsRunningAndEveryKindOfEnd) {
  SupervisorRecord r = running_record();
  EXPECT_EQ(parse_record(format_record(r)), r);
  SupervisorRecord code = r;
  code.ended = true;
  code.exit_code = 0;
  code.ended_at_ms = 1700000001000;
  EXPECT_EQ(parse_record(format_record(code)), code);
  SupervisorRecord sig = r;
  sig.ended = true;
  sig.signal = SIGKILL;
  sig.orphaned = true;
  EXPECT_EQ(parse_record(format_record(sig)), sig);
  SupervisorRecord spawn = r;
  spawn.pid = 0;
  spawn.pid_start_ticks = 0;
  spawn.ended = true;
  spawn.spawn_error = "cannot run /x: No such file or directory";
  spawn.spawn_errno = 2;
  EXPECT_EQ(parse_record(format_record(spawn)), spawn);
  SupervisorRecord capped = r;
  capped.ended = true;
  capped.signal = SIGTERM;
  capped.log_limit = "stderr";
  EXPECT_EQ(parse_record(format_record(capped)), capped);
  std::string bad = format_record(capped);
  bad.replace(bad.find("log_limit stderr"), 16, "log_limit stdin!");
  EXPECT_EQ(parse_record(bad), std::nullopt) << "only stdout or stderr can reach a cap";
}

TEST(SupervisorRecord, SpawnErrorsStayOnOneLine) {
  SupervisorRecord r = running_record();
  r.ended = true;
  r.spawn_error = "two\nlines\rhere";
  auto back = parse_record(format_record(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->spawn_error, "two lines here");
}

TEST(SupervisorRecord, RefusesWhatIsNotAWholeRecord) {
  // Each case is whole (it ends in `end`), so each is refused for what its comment says, not for
  // being torn; the first shows that such a whole record is taken.
  ASSERT_TRUE(parse_record("job 1\nend\n"));
  ASSERT_TRUE(parse_record("job 1\npid 12\norphaned 1\nended_at_ms 5\nexit_code 0\nend\n"));
  EXPECT_FALSE(parse_record(""));
  EXPECT_FALSE(parse_record("job 1\n"));                      // torn: no end
  EXPECT_FALSE(parse_record("attempt 1\nend\n"));             // no job
  EXPECT_FALSE(parse_record("job 0\nend\n"));                 // no such job
  EXPECT_FALSE(parse_record("job x\nend\n"));                 // not a number
  EXPECT_FALSE(parse_record("job 1\npid 12x\nend\n"));        // trailing garbage
  EXPECT_FALSE(parse_record("job 1\npid\nend\n"));            // no value
  EXPECT_FALSE(parse_record("job 1\norphaned 2\nend\n"));     // a flag is 0 or 1
  EXPECT_FALSE(parse_record("job 1\nended_at_ms 5\nend\n"));  // an end without how
  EXPECT_FALSE(parse_record("job 1\nended_at_ms 5\nexit_code 0\nsignal 9\nend\n"));  // two hows
  // A torn write (cut anywhere) is never taken for a record; what follows the end is ignored.
  EXPECT_TRUE(parse_record(format_record(running_record()) + "garbage"));
  SupervisorRecord r = running_record();
  r.ended = true;
  r.exit_code = 3;
  std::string text = format_record(r);
  for (std::size_t cut = 0; cut < text.size(); ++cut) {
    auto part = parse_record(text.substr(0, cut));
    if (part && part->ended) {
      EXPECT_EQ(part->exit_code, 3) << cut;
    }
  }
}

TEST(SupervisorRecord, UnknownKeysFromANewerSupervisorAreSkipped) {
  auto r = parse_record("job 5\nattempt 1\ncgroup /sys/fs/cgroup/x\nend\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->job, 5);
}

TEST(SlotFiles, NamesRoundTripAndStrangersAreRefused) {
  EXPECT_EQ(slot_file(12), "slot-12");
  EXPECT_EQ(parse_slot_file("slot-12"), 12);
  EXPECT_EQ(parse_slot_file("slot-0"), 0);
  EXPECT_FALSE(parse_slot_file("slot-"));
  EXPECT_FALSE(parse_slot_file("slot--1"));
  EXPECT_FALSE(parse_slot_file("slot-1x"));
  EXPECT_FALSE(parse_slot_file("slot-1.tmp"));
  EXPECT_FALSE(parse_slot_file("12-3.run"));
  EXPECT_FALSE(parse_slot_file("slot-99999999999"));
}

TEST(SignalLines, RoundTripAndBounds) {
  EXPECT_EQ(signal_line(SIGTERM), "signal 15\n");
  EXPECT_EQ(parse_signal_line("signal 15"), SIGTERM);
  EXPECT_EQ(parse_signal_line("signal 9"), SIGKILL);
  EXPECT_FALSE(parse_signal_line("signal 0"));
  EXPECT_FALSE(parse_signal_line("signal 65"));
  EXPECT_FALSE(parse_signal_line("signal -9"));
  EXPECT_FALSE(parse_signal_line("signal"));
  EXPECT_FALSE(parse_signal_line("kill 9"));
}

TEST(WorkerSupervisor, StderrSwitchesAndTheirCountRoundTrip) {
  SupervisorRecord w = running_record();
  w.job = -7;  // a warm worker's run key: its id negated
  w.stderr_switches = 41;
  EXPECT_EQ(parse_record(format_record(w)), w);
  EXPECT_EQ(stderr_line("/d/jobs/9/stderr.log"), "stderr /d/jobs/9/stderr.log\n");
  EXPECT_EQ(parse_stderr_line("stderr /d/jobs/9/stderr.log"), "/d/jobs/9/stderr.log");
  EXPECT_EQ(parse_stderr_line("stderr relative.log"), std::nullopt) << "absolute paths only";
  EXPECT_EQ(parse_stderr_line(std::string_view("stderr /a\0b", 11)), std::nullopt);
  EXPECT_EQ(parse_stderr_line("signal 9"), std::nullopt);
  SupervisorRecord none = running_record();
  none.job = 0;
  EXPECT_EQ(parse_record(format_record(none)), std::nullopt) << "job 0 names nothing";
}

}  // namespace
}  // namespace vramq::exec
