#include "app/serve.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>

#include "app/gpu_setup.hpp"
#include "app/job_users.hpp"
#include "app/startup.hpp"
#include "core/slurm_request.hpp"
#include "core/startup_checks.hpp"
#include "exec/local_executor.hpp"
#include "exec/program_path.hpp"
#include "exec/slurm_executor.hpp"
#include "server/http_server.hpp"
#include "server/json_codec.hpp"
#include "server/visibility.hpp"
#include "service/orchestrator.hpp"
#include "store/job_store.hpp"
#include "util/json_text.hpp"

namespace vramq::app {
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

asio::awaitable<void> shutdown_on_signal(asio::io_context& ioc, server::HttpServer& http,
                                         service::Orchestrator& orchestrator) {
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  int sig = co_await signals.async_wait(asio::use_awaitable);
  spdlog::info("{}: draining (no new jobs{})", sigabbrev_np(sig),
               orchestrator.config().stop_jobs_on_exit ? ", running jobs are stopped" : "");
  http.stop();
  co_await orchestrator.drain();
  spdlog::info("stopped");
  ioc.stop();
}

std::string describe(const core::Owners& o) {
  return fmt::format("{} owners, {} groups, {} tokens", o.owners.size(), o.groups.size(),
                     o.credentials.size());
}

// The owners and who their jobs run as, loaded together (a file whose run_as does not resolve is
// refused whole).
struct LoadedOwners {
  std::shared_ptr<const core::Owners> owners;
  std::shared_ptr<const service::JobUsers> users;
};
core::Result<LoadedOwners> load_owners_and_users(const core::Config& config) {
  auto owners = load_owners(config);
  if (!owners) return owners.error();
  auto users = resolve_job_users(config, owners->get());
  if (!users) return users.error();
  if (auto reached = open_job_dirs(config, **users); !reached) return reached.error();
  return LoadedOwners{.owners = std::move(*owners), .users = std::move(*users)};
}

// SIGHUP reloads the owners (or token) file, read off the loop. One that does not load is
// refused whole and the owners in force are kept: a typo must not lock everyone out.
asio::awaitable<void> reload_on_hangup(asio::io_context& ioc, const core::Config& config,
                                       server::Router& router,
                                       service::Orchestrator& orchestrator) {
  asio::signal_set hangup(ioc, SIGHUP);
  for (;;) {
    auto [ec, sig] = co_await hangup.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    if (config.owners_file.empty() && config.token_file.empty()) {
      spdlog::info("SIGHUP: nothing to reload (no --owners or --token-file)");
      continue;
    }
    auto loaded = co_await orchestrator.files().worker().async_run(
        [&config] { return load_owners_and_users(config); }, asio::use_awaitable);
    if (!loaded) {
      spdlog::error("SIGHUP: {}; the owners in force are kept", loaded.error().message);
      continue;
    }
    router.set_owners(loaded->owners);
    orchestrator.owners().set(loaded->owners);
    orchestrator.owners().set_users(loaded->users);
    spdlog::info("SIGHUP: reloaded {} ({})",
                 config.owners_file.empty() ? config.token_file : config.owners_file,
                 describe(*loaded->owners));
    log_job_users(*loaded->users, loaded->owners.get());
  }
}

// Where jobs run: a supervisor per run on this host, or the Slurm cluster (connected now: an
// unreachable controller stops the start).
core::Result<std::unique_ptr<exec::Executor>> make_executor(asio::io_context& ioc,
                                                            const core::Config& config,
                                                            const std::string& slurm_prefix,
                                                            mode_t job_umask) {
  if (config.executor == "slurm") {
    auto cluster = std::make_unique<exec::SlurmExecutor>(
        ioc.get_executor(),
        exec::SlurmExecutorOptions{
            .run_dir = fs::absolute(fs::path(config.data_dir) / "run" / "slurm").string(),
            .batch_step = bin_dir() + "/vramq",
            .settings = core::slurm_settings(config),
            .name_prefix = slurm_prefix,
            .poll_ms = config.slurm_poll_ms});
    if (auto connected = cluster->connect(); !connected) {
      return core::Error{"--executor slurm: " + connected.error().message};
    }
    spdlog::info("executor: Slurm cluster {} (VRAM as {}{}), jobs named {}*", cluster->cluster(),
                 config.slurm_vram == "vram" ? "a count-only vram GRES" : "shards of ",
                 config.slurm_vram == "vram" ? "" : std::to_string(config.slurm_shard_mb) + " MiB",
                 slurm_prefix);
    return std::unique_ptr<exec::Executor>(std::move(cluster));
  }
  std::string supervisor = bin_dir() + "/vramq-supervise";
  if (!exec::is_executable_file(supervisor)) {
    return core::Error{supervisor +
                       " is missing: every job runs under it (it is built beside vramq)"};
  }
  return std::unique_ptr<exec::Executor>(std::make_unique<exec::LocalExecutor>(
      ioc.get_executor(), exec::LocalExecutorOptions{
                              .run_dir = fs::absolute(fs::path(config.data_dir) / "run").string(),
                              .supervisor = supervisor,
                              .orphan_grace_ms = config.orphan_grace_s * 1000,
                              .kill_grace_ms = config.kill_grace_s * 1000,
                              .log_limit_bytes = config.log_limit_bytes,
                              .log_mode = config.share_data_with_group ? 0640 : 0600,
                              .job_umask = static_cast<int>(job_umask)}));
}

// Events carry the API's shapes.
service::EventFeed::Encoders api_encoders(const core::Config& config) {
  bool names = !server::jobs_are_private(config);
  return {
      .job =
          [](const service::JobView& v) {
            return util::to_json_text(server::job_to_json(v, false));
          },
      .gpu = [](const service::GpuStatus& g) { return util::to_json_text(server::gpu_to_json(g)); },
      .worker =
          [](const service::WorkerStatus& w) {
            return util::to_json_text(server::worker_to_json(w));
          },
      .queue =
          [names](const service::QueueHead& q) {
            return util::to_json_text(server::queue_head_to_json(q, names));
          }};
}

server::HttpLimits http_limits(const core::Config& config, std::int64_t connections) {
  return {.body_bytes = static_cast<std::size_t>(config.body_limit_bytes),
          .header_bytes = 16 << 10,
          .read_timeout = std::chrono::seconds(config.http_timeout_s),
          .first_request_timeout = std::chrono::seconds(config.first_request_timeout_s),
          .max_connections = static_cast<std::size_t>(connections),
          .max_connections_per_client = static_cast<std::size_t>(config.max_connections_per_client),
          .max_connections_per_owner = static_cast<std::size_t>(config.max_connections_per_owner),
          .buffered_body_bytes = static_cast<std::size_t>(config.max_buffered_body_bytes)};
}

void log_report(const core::StartupReport& report) {
  for (const std::string& w : report.warnings)
    spdlog::warn("{}", w);
  for (const std::string& e : report.errors)
    spdlog::error("{}", e);
}

}  // namespace

// Exit codes of `serve`: 2 when the start-up configuration cannot be used as given (flags,
// config file, catalog, tokens, --gpus, the listen address, a data directory or GPU in use by
// another vramq); 1 when vramq fails at run time (the job store cannot be opened or recovered).
int serve(core::Config config) {
  auto fail = [](const core::Error& e, int code) {
    spdlog::error("{}", e.message);
    return code;
  };
  ::signal(SIGPIPE, SIG_IGN);
  // The job supervisors it spawns are reaped by the kernel (it never waits for them: it learns
  // of their end on their socket), so none is left a zombie for the life of the server.
  // Under Slurm no supervisor runs here, and the Slurm tools' exit statuses must be waited for.
  if (config.executor != "slurm") ::signal(SIGCHLD, SIG_IGN);
  if (auto ok = core::validate_config(config); !ok) return fail(ok.error(), 2);
  // First, before anything opens a descriptor that a low limit would make fail later.
  std::uint64_t nofile = raise_nofile();
  core::StartupReport exposure = core::check_exposure(config);
  log_report(exposure);
  if (!exposure.errors.empty()) return 2;
  // Everything the server creates (the data directory, job directories, the store, run files,
  // logs) is private to its user (or its group too); jobs get the umask vramq was started with.
  mode_t private_bits = config.share_data_with_group ? 027 : 077;
  mode_t job_umask = ::umask(private_bits);
  auto data_lock = prepare_data_dir(config, private_bits);
  if (!data_lock) return fail(data_lock.error(), 2);
  auto catalog = load_catalog(config);
  if (!catalog) return fail(catalog.error(), 2);
  std::vector<HostLock> gpu_locks;
  std::string slurm_prefix = slurm_job_prefix(config.data_dir);
  auto gpus = open_gpus(config, *catalog, slurm_prefix, gpu_locks);
  if (!gpus) return fail(gpus.error(), 2);
  auto owners = load_owners_and_users(config);
  if (!owners) return fail(owners.error(), 2);
  if (owners->owners) spdlog::info("tokens required: {}", describe(*owners->owners));
  log_job_users(*owners->users, owners->owners.get());

  asio::io_context ioc(1);
  auto store =
      store::JobStore::open((fs::path(config.data_dir) / "vramq.db").string(), ioc.get_executor());
  if (!store) return fail(core::Error{"job store: " + store.error().message}, 1);
  auto executor = make_executor(ioc, config, slurm_prefix, job_umask);
  if (!executor) return fail(executor.error(), 2);
  service::Orchestrator orchestrator(ioc, config, std::move(*catalog), std::move(*gpus),
                                     std::move(*executor), std::move(*store));
  if (auto ok = orchestrator.start(); !ok) return fail(ok.error(), 1);
  orchestrator.events().set_encoders(
      api_encoders(config));  // once recovery is done (it publishes nothing)
  orchestrator.owners().set(owners->owners);
  orchestrator.owners().set_users(owners->users);
  server::Router router(orchestrator, owners->owners,
                        {.per_job = static_cast<std::size_t>(config.max_waiters_per_job),
                         .per_owner = static_cast<std::size_t>(config.max_waiters_per_owner)});
  core::ConnectionCap cap = core::fit_connections(config.max_connections, nofile);
  for (const std::string& w : cap.warnings)
    spdlog::warn("{}", w);
  server::HttpServer http(ioc, router, http_limits(config, cap.connections));
  auto listen = core::parse_host_port(config.listen);
  auto endpoint = http.listen(listen->host, listen->port);
  if (!endpoint) return fail(endpoint.error(), 2);
  http.start();
  asio::co_spawn(ioc, shutdown_on_signal(ioc, http, orchestrator), asio::detached);
  asio::co_spawn(ioc, reload_on_hangup(ioc, config, router, orchestrator), asio::detached);
  spdlog::info("vramq listening on http://{}:{} (data in {}, GPUs: {}, {} tasks)",
               endpoint->address().to_string(), endpoint->port(), config.data_dir,
               orchestrator.health().gpu_kind, orchestrator.catalog().tasks().size());
  ioc.run();
  return 0;
}

}  // namespace vramq::app
