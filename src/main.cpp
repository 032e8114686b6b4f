// vramq: the server (`vramq serve`) and its command-line client, in one binary.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "app/batch_step.hpp"
#include "app/serve.hpp"
#include "app/serve_flags.hpp"
#include "cli/command_line.hpp"
#include "cli/token_commands.hpp"

namespace {

std::string env_or(const char* name, std::string fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : std::move(fallback);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vramq;
  // `vramq batch-step -- ARGV...`: a job's Slurm batch step on a node (app/batch_step.hpp).
  if (argc > 2 && std::string_view(argv[1]) == "batch-step" && std::string_view(argv[2]) == "--") {
    std::vector<std::string> job(argv + 3, argv + argc);
    return app::batch_step(job);
  }
  // Logs go to stderr: stdout belongs to command output (tables, JSON, job output).
  spdlog::set_default_logger(spdlog::stderr_logger_mt("vramq"));
  CLI::App app{
      "vramq: a GPU job orchestrator that starts each job only when a GPU has room for it"};
  app.require_subcommand(1);
  // `vramq submit [OPTIONS] -- ARGV...`: everything after `--` is the job's argv as it is, its
  // own --flags included, so it is split off before CLI11 could take them for vramq's options.
  std::vector<std::string> raw_argv;
  int parsed_argc = argc;
  if (argc > 1 && std::string_view(argv[1]) == "submit") {
    for (int i = 2; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--") {
        raw_argv.assign(argv + i + 1, argv + argc);
        parsed_argc = i;
        break;
      }
    }
  }
  cli::ClientOptions client{.server = env_or("VRAMQ_SERVER", "http://127.0.0.1:8000"),
                            .token = env_or("VRAMQ_TOKEN", ""),
                            .json = false};

  // serve
  core::Config config;
  std::string config_file;
  CLI::App* serve = app.add_subcommand("serve", "run the vramq server");
  serve->add_option("--config", config_file, "TOML config file (flags override it)");
  app::add_config_flags(*serve, config);

  cli::ClientCommandLine client_commands(app, std::move(client));

  // token new | hash: local, for the owners file
  CLI::App* token = app.add_subcommand("token", "make bearer tokens for the owners file");
  token->require_subcommand(1);
  CLI::App* token_new = token->add_subcommand("new", "print a fresh random token and its hash");
  CLI::App* token_hash = token->add_subcommand(
      "hash", "print the hash of each token read on standard input (the owners file keeps these)");

  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : cli::kExitUsage;
  }

  if (serve->parsed()) {
    if (!config_file.empty()) {
      auto parsed = app::read_config_file(config_file);
      if (!parsed) {
        std::cerr << "vramq: " << parsed.error().message << "\n";
        return cli::kExitUsage;
      }
      // The file applies first, then the flags given on the command line again on top (CLI11
      // writes only the options that were given).
      config = *parsed;
      app.parse(parsed_argc, argv);
    }
    return app::serve(config);
  }
  if (token_new->parsed()) return cli::token_new(std::cout, std::cerr);
  if (token_hash->parsed()) return cli::token_hash(std::cin, std::cout, std::cerr);
  return client_commands.run(std::move(raw_argv)).value_or(cli::kExitUsage);
}
