#pragma once
// What the server and a job's supervisor (vramq-supervise) share: the file of one run in the run
// directory, the record the supervisor keeps of the run, and the lines on the attach socket.
// Pure text in and out, no I/O: the supervisor is a small binary without Boost, and both sides
// use these same functions. Unit-tested in tests/unit/exec/supervisor_protocol_test.cpp.
//
// One run has one file, a slot in DATA_DIR/run/ (slot-K, reused by later runs: files created and
// removed per run cost ext4 dearly), flock()ed by the server before the spawn and held by the
// supervisor from then on ("is a supervisor alive?" is "is this lock held?", with no PID that
// could be reused). The supervisor keeps its record in it,
// rewritten in place (the lock is on the inode, so no rename; a torn write lacks the final `end`
// line and is not taken for a record); the exit is fdatasync()ed before the supervisor exits, so
// it survives the server and the supervisor. The supervisor listens on an abstract unix socket
// (no file to create and remove) whose random name is in the record; it serves only its own user,
// and a server checks that the peer is the supervisor the record names (PID and start time). The
// file lives outside the job's directory because the job writes there (often its cwd): a run must
// not forge or delete its own exit status.
//
// On an attached connection the supervisor sends its record (as in the file, then an empty
// line) on every attach and whenever it changes; the server sends `signal N` lines, relayed to
// every process of the job, and (warm workers) `stderr PATH` lines. A warm worker's run key is its
// id negated: `job` is then below 0 (the next server releases such runs).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vramq::exec {

struct SupervisorRecord {
  std::int64_t job = 0;
  int attempt = 0;
  std::int64_t supervisor_pid = 0;
  std::int64_t supervisor_start_ticks = 0;
  std::string gpus;      // the GPU indexes it was started on, as "0,1" (the server's)
  std::string socket;    // its abstract socket's name (without the leading NUL)
  std::int64_t pid = 0;  // the job's main process, also its process group (0: not yet)
  std::int64_t pid_start_ticks = 0;
  std::int64_t started_at_ms = 0;  // when the job's process started (Unix ms)
  // The end, once there is one: exactly one of exit_code, signal or spawn_error.
  bool ended = false;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string spawn_error;  // the program could not be started (then nothing ran)
  int spawn_errno = 0;      // its errno (a host's failure, such as ENOSPC, is retried)
  bool orphaned = false;    // the supervisor ended the job: no server attached within the grace
  std::string log_limit;    // "stdout" or "stderr": that log reached its cap; the job was stopped
  std::int64_t ended_at_ms = 0;
  // A warm worker: how many `stderr PATH` lines it has acted on (each is answered with the
  // record, so that the server knows when a run's log is in place before it sends the run).
  std::int64_t stderr_switches = 0;
  bool operator==(const SupervisorRecord&) const = default;
};

// "key value" lines, one field per line, values without newlines (spawn_error's are replaced),
// and a last line `end`.
std::string format_record(const SupervisorRecord& r);
// nullopt: not a whole record (no `end` line, a line without a value, a bad number, no job).
std::optional<SupervisorRecord> parse_record(std::string_view text);

// The run directory's slot files: "slot-K". A run occupies a slot (its record names the job and
// attempt); a slot is reused by later runs, so that starting a job creates and removes no file.
std::string slot_file(int slot);
std::optional<int> parse_slot_file(std::string_view name);

// Server -> supervisor: relay `sig` to the whole job.
std::string signal_line(int sig);
std::optional<int> parse_signal_line(std::string_view line);

// Server -> supervisor of a warm worker: its stderr goes to this file (appended) from now on; what
// the pipe holds already goes to the file before. A run's stderr is its job's log. Answered with
// the record (stderr_switches one higher), also when the file could not be opened.
std::string stderr_line(std::string_view path);
std::optional<std::string> parse_stderr_line(std::string_view line);  // an absolute path

}  // namespace vramq::exec
