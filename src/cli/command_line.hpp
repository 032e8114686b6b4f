#pragma once
// The client subcommands' flags (CLI11) and their dispatch: main() adds them to its app, parses
// the command line, then asks which one to run. Each subcommand's flags live here beside the
// call they feed (cli/client_commands.hpp, worker_commands.hpp, top.hpp).

#include <CLI/App.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli/client_commands.hpp"

namespace vramq::cli {

class ClientCommandLine {
 public:
  // Adds every client subcommand to `app`; `client` holds the defaults (from the environment).
  // `app` must outlive this object and this object the parse.
  ClientCommandLine(CLI::App& app, ClientOptions client);
  ClientCommandLine(const ClientCommandLine&) = delete;
  ClientCommandLine& operator=(const ClientCommandLine&) = delete;

  // Runs the subcommand that was parsed and returns its exit code; nullopt when none was.
  // `raw_argv`: what followed `--` after `submit` (the job's own argv).
  std::optional<int> run(std::vector<std::string> raw_argv);

 private:
  void add_submit(CLI::App& app);
  void add_job_commands(CLI::App& app);
  void add_views(CLI::App& app);
  CLI::App* add(CLI::App& parent, const std::string& name, const std::string& help,
                std::function<int()> call);
  int submit_job(std::vector<std::string> raw_argv);

  ClientOptions client_;
  // Subcommands in the order they are looked at (a nested one before its parent).
  std::vector<std::pair<CLI::App*, std::function<int()>>> commands_;
  CLI::App* submit_ = nullptr;
  SubmitOptions submit_options_;
  std::int64_t job_id_ = 0;
  std::string ls_states_;
  int ls_limit_ = 50;
  std::int64_t ls_before_ = 0;
  ListOptions ls_filter_;
  std::string fetch_path_;
  std::string fetch_dir_;
  std::vector<std::int64_t> rm_ids_;
  bool logs_stderr_ = false;
  bool logs_follow_ = false;
  int logs_attempt_ = 0;
  bool top_once_ = false;
  std::int64_t worker_id_ = 0;
  UsageOptions usage_options_;
};

}  // namespace vramq::cli
