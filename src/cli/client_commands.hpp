#pragma once
// The CLI's client subcommands. Each returns the process exit code of DESIGN:
// 0 ok, 1 job failed (submit --wait, wait), 2 usage error, 3 server unreachable or refused.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vramq::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitJobFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

struct ClientOptions {
  std::string server;  // URL
  std::string token;
  bool json = false;
};

struct SubmitOptions {
  std::string task;
  std::vector<std::string> params;   // "key=value"
  std::vector<std::string> files;    // "param=path": uploaded with the job
  std::vector<std::string> command;  // raw argv instead of a task
  std::optional<std::int64_t> vram_mb;
  std::optional<int> gpus;
  std::optional<int> priority;
  std::optional<std::int64_t> timeout_s;
  std::optional<int> max_retries;
  std::optional<std::int64_t> retry_delay_s;
  std::vector<std::int64_t> after_ok;   // --after-ok ID: must succeed first
  std::vector<std::int64_t> after_any;  // --after ID: must end first
  std::vector<std::string> env;         // "NAME=VALUE"
  std::string idempotency_key;
  std::string name;
  std::vector<std::string> labels;  // "KEY=VALUE"
  std::optional<bool> preemptible;  // --preemptible / --no-preemptible; absent: the task's
  bool wait = false;
};

int submit(const ClientOptions& c, const SubmitOptions& s);
int show(const ClientOptions& c, std::int64_t id);
int wait(const ClientOptions& c, std::int64_t id);
int gpus(const ClientOptions& c);
struct ListOptions {
  std::string states;  // "queued,running"; "" all
  int limit = 50;
  std::int64_t before = 0;  // > 0: only jobs with a smaller id (the footer names the next page)
  std::string name;
  std::string label;  // KEY=VALUE
  std::string owner;
};
int list(const ClientOptions& c, const ListOptions& o);
int cancel(const ClientOptions& c, std::int64_t id);
// Downloads a job's files: `path` "" all of them into `dir` (default ./job-ID), keeping their
// relative paths; else that one file into `dir` (default .).
int fetch(const ClientOptions& c, std::int64_t id, const std::string& path, std::string dir);
// Removes ended jobs (records and files); every id is tried, the first failure's code returned.
int remove(const ClientOptions& c, const std::vector<std::int64_t>& ids);
// `attempt` > 0: that attempt's log (a retried job keeps each attempt's).
int logs(const ClientOptions& c, std::int64_t id, bool stderr_stream, bool follow, int attempt);
int tasks(const ClientOptions& c);
// vramq usage (usage_command.cpp): VRAM and GPU time used, per owner, task or day.
struct UsageOptions {
  std::string from;  // YYYY-MM-DD ("": the server's default, 30 days back)
  std::string to;
  std::string by = "owner";  // owner,task,day
  std::string owner;
};
int usage(const ClientOptions& c, const UsageOptions& u);
// vramq owners: GET /v1/owners as tables (admins).
int owners(const ClientOptions& c);

}  // namespace vramq::cli
