#pragma once
// The operator's task catalog: named tasks whose typed parameters, argv template, working
// directory, environment and VRAM rule turn a client's {"task", "params"} into something to run.
// Parsing is from TOML text (the caller reads the file); resolving is pure.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/vram_rule.hpp"

namespace re2 {
class RE2;
}

namespace vramq::core {

enum class ParamType { integer, number, string, choice, path, file };
// "int", "float", "string", "enum", "path", "file"
std::string_view to_string(ParamType t);

using ParamValue = std::variant<std::int64_t, double, std::string>;

struct ParamDef {
  std::string name;
  ParamType type = ParamType::string;
  std::string description;
  std::optional<double> min;  // int and float
  std::optional<double> max;
  std::optional<ParamValue> default_value;  // none: the parameter is required
  // string: a regular expression in RE2 syntax the whole value must match ("" = any). RE2
  // matches in time linear in the value, without recursion: no value can stall or crash the
  // server (std::regex overflowed its stack on 16 KiB).
  std::string pattern;
  std::shared_ptr<const re2::RE2> compiled_pattern;  // shared: RE2 is immutable and not copyable
  std::size_t max_length = 4096;                     // string and path
  std::vector<std::string> choices;                  // enum
  std::string under;                                 // path: must resolve inside this directory
  // file: a file the client uploads with the job (a multipart part, or a data: URL), stored as
  // DATA_DIR/jobs/ID/inputs/NAME, whose path the job gets. Its limits are checked as it arrives:
  // at most `max_bytes` (0: the server's --max-upload-bytes alone), of one of `media_types` as
  // its content tells (core/media_type.hpp; empty: any). A default names a file on the server.
  std::int64_t max_bytes = 0;
  std::vector<std::string> media_types;
};

// A task served by warm workers (`[tasks.NAME.worker]`, docs/workers.md): a long-lived process
// that loads the model once and then serves runs sent over its stdin (exec/worker_protocol.hpp).
struct WorkerDef {
  std::vector<std::string> argv;    // may hold {bin_dir}; no {param}: one process serves all runs
  std::int64_t keep_alive_s = 300;  // idle time before it is unloaded; -1: stays resident
  int max_workers = 1;              // resident at once (all GPUs together)
  std::int64_t setup_timeout_s = 600;  // from its start until `ready`
  // A run in flight on a worker when the server stopped is queued again once (false: it ends
  // `interrupted`, for runs that must not be repeated).
  bool requeue_on_restart = true;
};

struct TaskDef {
  std::string name;
  std::string description;
  std::vector<std::string> argv;  // items may hold {param}, {job_dir}, {job_id}
  std::string cwd;                // may hold {job_dir}; empty: the job's directory
  std::vector<std::string> env_allow;
  std::vector<std::pair<std::string, std::string>> env;  // fixed environment of the task
  std::int64_t timeout_s = 0;
  std::vector<ParamDef> params;
  VramRule vram;
  // Reserve the learned footprint (measured peaks of earlier runs) instead of the rule's figure
  // once there are enough runs; `learn = false` in the catalog keeps the declared rule.
  bool learn = true;
  // Its jobs' default for `preemptible` (a job may say otherwise).
  bool preemptible = false;
  std::optional<WorkerDef> worker;  // set: runs go to warm workers, not a process each
};

// A client's parameter value as decoded from JSON; bool is kept apart so that it is refused.
using ParamInput = std::variant<std::int64_t, double, std::string, bool>;

struct ResolvedTask {
  std::vector<std::string> argv;
  std::string cwd;
  std::vector<std::pair<std::string, std::string>> env;
  std::map<std::string, ParamValue, std::less<>> params;  // every parameter, defaults filled in
  std::int64_t vram_mb = 0;
  std::int64_t timeout_s = 0;
};

// Where a resolution error points: the parameter (or field) it names, and why.
struct ParamError {
  std::string field;  // e.g. "params.seconds"
  std::string message;
};

class TaskCatalog {
 public:
  // `bin_dir` replaces {bin_dir} in argv and cwd at load time (where vramq's own helper programs
  // live). Errors name the task and key.
  // `catalog_dir` (the catalog file's directory, absolute) replaces {catalog_dir}, so that a
  // catalog can name scripts that lie beside it.
  static Result<TaskCatalog> parse(std::string_view toml_text, std::string_view bin_dir,
                                   std::string_view catalog_dir = {});

  const TaskDef* find(std::string_view name) const;
  const std::vector<TaskDef>& tasks() const { return tasks_; }

 private:
  std::vector<TaskDef> tasks_;  // sorted by name
};

// Resolves a path through the filesystem: symlinks anywhere in it followed, `.` and `..` gone;
// components that do not exist yet are appended as they are (an output the job will create).
// Injected so that the catalog stays pure; util::real_path is the real one.
using PathResolver = std::function<Result<std::string>(const std::string& path)>;

// Validates `given` against the task (unknown, missing, mistyped or out-of-bounds parameters are
// errors naming the parameter) and fills the templates. A file parameter takes its value from
// `files` (parameter -> the path its upload will have), never from `given`. `job_dir` and `job_id`
// fill {job_dir} and {job_id}. A `path` parameter must stay inside its `under` directory lexically
// and, with `resolve`, once resolved (a symlink under it that points elsewhere is refused); the job
// gets the resolved path, so that swapping a symlink after the check changes nothing it was handed.
boost::system::result<ResolvedTask, ParamError> resolve_task(
    const TaskDef& task, const std::vector<std::pair<std::string, ParamInput>>& given,
    std::string_view job_dir, std::int64_t job_id, const PathResolver& resolve = {},
    const std::map<std::string, std::string, std::less<>>& files = {});

// What a task's VRAM rule can ask for: the least over its parameters' ranges (nullopt when the
// rule cannot be evaluated anywhere), and the figure with every parameter at its default
// (nullopt when a parameter the rule reads is required). For start-up checks against the GPUs.
struct RuleRange {
  std::optional<std::int64_t> least_mb;
  std::optional<std::int64_t> default_mb;
};
RuleRange reservation_range(const TaskDef& task);

// Textual form used in argv substitution and tables: ints as decimal, floats shortest round-trip.
std::string format_param(const ParamValue& v);

}  // namespace vramq::core
