#pragma once
// The warm-worker protocol (docs/workers.md): newline-delimited JSON on the worker's stdin
// (vramq -> worker) and stdout (worker -> vramq), one JSON object per line, each with a "type".
// A worker loads its model once, says `ready`, and then serves `run`s one at a time; the files a
// run reads and writes are in the job's directory, never inline. The worker's stderr is its log
// (during a run, the run's stderr log). Pure text in and out, no I/O: the server and the demo
// fake model use the same functions. Unit-tested in tests/unit/exec/worker_protocol_test.cpp.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.hpp"
#include "core/job.hpp"

namespace vramq::exec {

inline constexpr int kWorkerProtocolVersion = 1;
// A longer line from a worker breaks the protocol (the worker is stopped): outputs are files.
inline constexpr std::size_t kMaxWorkerLineBytes = 1 << 20;

// vramq -> worker.
struct WorkerInit {
  std::int64_t worker = 0;
  std::string task;
  int gpu = 0;  // vramq's GPU index (CUDA_VISIBLE_DEVICES names the device)
};
struct WorkerRun {
  core::JobId job = 0;
  int attempt = 1;
  std::string params_json;  // the job's parameters: a JSON object (trusted: vramq's own text)
  std::string job_dir;
  std::int64_t deadline_ms = 0;  // Unix ms when it is stopped (0: no timeout)
  std::int64_t vram_mb = 0;      // its reservation
  std::span<const std::pair<std::string, std::string>> env;  // the job's own variables
};
std::string init_line(const WorkerInit& init);
std::string run_line(const WorkerRun& run);
std::string cancel_line(core::JobId job);
std::string ping_line(std::uint64_t seq);
std::string shutdown_line();

// worker -> vramq.
enum class WorkerMessageType { ready, progress, result, error, cancelled, pong, fatal };
std::string_view to_string(WorkerMessageType t);

struct WorkerMessage {
  WorkerMessageType type = WorkerMessageType::ready;
  core::JobId job = 0;  // progress, result, error, cancelled: the run it is about
  // result: the run's output text (its `output`, written to its stdout log); error, fatal and
  // progress: the message.
  std::string text;
  bool retryable = false;          // error: a new attempt may succeed (within max_retries)
  std::optional<double> fraction;  // progress: 0..1
  std::uint64_t seq = 0;           // pong: the ping's
};

// One line without its newline. An error names what is wrong with it.
core::Result<WorkerMessage> parse_worker_message(std::string_view line);

// vramq -> worker lines, parsed (for workers written in C++, such as the fake model).
struct WorkerCommand {
  enum class Type { init, run, cancel, ping, shutdown } type = Type::ping;
  core::JobId job = 0;
  std::string params_json;  // run: the params object, serialized
  std::string job_dir;
  std::int64_t deadline_ms = 0;
  std::uint64_t seq = 0;
};
core::Result<WorkerCommand> parse_worker_command(std::string_view line);

// worker -> vramq lines, for C++ workers.
std::string ready_line();
std::string result_line(core::JobId job, std::string_view output);
std::string error_line(core::JobId job, std::string_view message, bool retryable);
std::string cancelled_line(core::JobId job);
std::string pong_line(std::uint64_t seq);
std::string progress_line(core::JobId job, double fraction, std::string_view message);

}  // namespace vramq::exec
