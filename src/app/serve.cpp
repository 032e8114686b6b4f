#include "app/serve.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/embedded_catalog.hpp"
#include "app/host_lock.hpp"
#include "core/slurm_request.hpp"
#include "core/startup_checks.hpp"
#include "core/units.hpp"
#include "exec/local_executor.hpp"
#include "exec/program_path.hpp"
#include "exec/slurm_executor.hpp"
#include "gpu/nvml_gpu_source.hpp"
#include "gpu/nvml_library.hpp"
#include "gpu/sim_gpu_source.hpp"
#include "gpu/slurm_gpu_source.hpp"
#include "server/auth.hpp"
#include "server/http_server.hpp"
#include "server/json_codec.hpp"
#include "service/orchestrator.hpp"
#include "util/json_text.hpp"

namespace vramq::app {
namespace asio = boost::asio;

namespace {

// A stable hash (FNV-1a) of a data directory's path, for its Slurm job names.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string bin_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

core::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::Error{fmt::format("cannot read {}", path)};
  std::stringstream ss;
  ss << in.rdbuf();
  return core::Result<std::string>(boost::system::in_place_value, ss.str());
}

// One vramq per GPU on a host: a second server managing the same GPUs (another data directory)
// would hand out memory the first one has given away. Held GPUs refuse the start; a lock file
// that cannot be opened at all (another user's) only warns, so that it cannot block vramq.
core::Result<void> lock_gpus(const std::vector<gpu::NvmlDevice>& devices, const std::string& dir,
                             std::vector<HostLock>& locks) {
  for (const gpu::NvmlDevice& d : devices) {
    std::string path = fmt::format("{}/vramq-gpu-{}.lock", dir, d.uuid);
    auto lock = HostLock::acquire(path, fmt::format("GPU {} ({})", d.index, d.uuid));
    if (lock) {
      locks.push_back(std::move(*lock));
    } else if (lock.error().message.find("in use by another vramq") != std::string::npos) {
      return lock.error();
    } else {
      spdlog::warn("{}; NOT checking that no other vramq manages this GPU", lock.error().message);
    }
  }
  return {};
}

core::Result<std::unique_ptr<gpu::GpuSource>> make_gpu_source(const core::Config& config,
                                                              std::vector<HostLock>& gpu_locks) {
  const std::string& spec = config.gpus;
  if (spec.starts_with("sim:")) {
    auto sizes = core::parse_gpu_spec(spec.substr(4));
    if (!sizes) return core::Error{"--gpus " + spec + ": " + sizes.error().message};
    return std::unique_ptr<gpu::GpuSource>(std::make_unique<gpu::SimGpuSource>(*sizes));
  }
  if (spec != "nvml" && spec != "auto") {
    return core::Error{
        fmt::format("--gpus must be nvml, auto or sim:SPEC (e.g. sim:24GiB), got '{}'", spec)};
  }
  // Real GPUs through NVML; `auto` falls back to simulation (loudly) when there are none.
  std::string why;
  auto nvml = gpu::NvmlLibrary::open(config.nvml_library);
  if (nvml) {
    auto devices = (*nvml)->read_devices();
    if (!devices) {
      why = devices.error().message;
    } else if (devices->empty()) {
      why = "NVML sees no GPU";
    } else {
      spdlog::info("NVML: {} GPU(s), {}; first: {} ({} MiB)", devices->size(), (*nvml)->versions(),
                   devices->front().name, devices->front().total_mb);
      if (auto locked = lock_gpus(*devices, config.gpu_lock_dir, gpu_locks); !locked) {
        return locked.error();
      }
      for (const gpu::NvmlDevice& d : *devices) {
        if (!d.processes_known) {
          spdlog::warn(
              "GPU {} ({}) does not list its processes: jobs on it count as their "
              "reservations; no measured use, attribution or enforcement there",
              d.index, d.name);
        }
      }
      return std::unique_ptr<gpu::GpuSource>(
          std::make_unique<gpu::NvmlGpuSource>(std::move(*nvml)));
    }
  } else {
    why = nvml.error().message;
  }
  if (spec == "nvml") {
    return core::Error{"--gpus nvml: " + why +
                       "; run with --gpus sim:24GiB to simulate GPUs, or --gpus auto"};
  }
  std::fprintf(stderr,
               "\n*****************************************************************\n"
               "*  vramq: NO REAL GPU: %s.\n"
               "*  SIMULATING one 24 GiB GPU (--gpus sim:24GiB). Admission follows\n"
               "*  simulated readings, not real GPU memory.\n"
               "*****************************************************************\n\n",
               why.c_str());
  return std::unique_ptr<gpu::GpuSource>(
      std::make_unique<gpu::SimGpuSource>(std::vector<std::int64_t>{24576}));
}

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

}  // namespace

// Exit codes of `serve`: 2 when the start-up configuration cannot be used as given (flags,
// config file, catalog, tokens, --gpus, the listen address, a data directory or GPU in use by
// another vramq); 1 when vramq fails at run time (the job store cannot be opened or recovered).
// Raises the soft open-file limit to the hard one (at most core::kNofileTarget) and answers the
// limit now in force: systemd's and most shells' soft limit, 1024, is what idle clients exhaust.
std::uint64_t raise_nofile() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  rlim_t want = std::min<rlim_t>(lim.rlim_max, core::kNofileTarget);
  if (lim.rlim_cur < want) {
    rlim_t was = lim.rlim_cur;
    lim.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) {
      spdlog::debug("open-file limit raised from {} to {}", was, want);
    } else {
      lim.rlim_cur = was;
    }
  }
  return lim.rlim_cur;
}

int serve(core::Config config) {
  ::signal(SIGPIPE, SIG_IGN);
  // The job supervisors it spawns are reaped by the kernel (it never waits for them: it learns
  // of their end on their socket), so none is left a zombie for the life of the server.
  // Under Slurm no supervisor runs here, and the Slurm tools' exit statuses must be waited for.
  if (config.executor != "slurm") ::signal(SIGCHLD, SIG_IGN);
  if (auto ok = core::validate_config(config); !ok) {
    spdlog::error("{}", ok.error().message);
    return 2;
  }
  // First, before anything opens a descriptor that a low limit would make fail later.
  std::uint64_t nofile = raise_nofile();
  core::StartupReport exposure = core::check_exposure(config);
  for (const std::string& w : exposure.warnings)
    spdlog::warn("{}", w);
  for (const std::string& e : exposure.errors)
    spdlog::error("{}", e);
  if (!exposure.errors.empty()) return 2;
  auto listen = core::parse_host_port(config.listen);
  // The data directory is locked before anything in it is read or changed: a second server on
  // it must not run recovery (which kills the first one's jobs) or bind a port.
  namespace fs = std::filesystem;
  // Everything the server creates (the data directory, job directories, the store, run files,
  // logs) is private to its user (or its group too); jobs get the umask vramq was started with.
  mode_t private_bits = config.share_data_with_group ? 027 : 077;
  mode_t job_umask = ::umask(private_bits);
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) {
    spdlog::error("cannot create the data directory {}: {}", config.data_dir, ec.message());
    return 2;
  }
  if (struct stat st{}; ::stat(config.data_dir.c_str(), &st) == 0) {
    if (auto loose = core::data_dir_mode_warning(config.data_dir, st.st_mode & 07777,
                                                 config.share_data_with_group)) {
      spdlog::warn("{}", *loose);
    }
  }
  auto data_lock = HostLock::acquire((fs::path(config.data_dir) / "vramq.lock").string(),
                                     fmt::format("the data directory {}", config.data_dir));
  if (!data_lock) {
    spdlog::error("{}", data_lock.error().message);
    return 2;
  }
  fs::create_directories(fs::path(config.data_dir) / "jobs", ec);
  if (ec) {
    spdlog::error("cannot create {}/jobs: {}", config.data_dir, ec.message());
    return 2;
  }
  std::string catalog_text;
  if (config.tasks_file.empty()) {
    catalog_text = std::string(demo_catalog());
  } else {
    auto text = read_file(config.tasks_file);
    if (!text) {
      spdlog::error("--tasks: {}", text.error().message);
      return 2;
    }
    catalog_text = std::move(*text);
  }
  auto catalog = core::TaskCatalog::parse(catalog_text, bin_dir());
  if (!catalog) {
    spdlog::error("{}: {}", config.tasks_file.empty() ? "embedded catalog" : config.tasks_file,
                  catalog.error().message);
    return 2;
  }
  for (const core::TaskDef& task : catalog->tasks()) {
    // A program that is not there fails every run of the task (spawn_failed): say so now.
    const std::string& program = task.argv.front();
    const char* path = std::getenv("PATH");
    if (program.find('{') != std::string::npos) continue;
    auto found = exec::find_program(program, path ? path : "", "");
    if (!found || (found->front() == '/' && !exec::is_executable_file(*found))) {
      spdlog::warn("tasks.{}.argv: '{}' is not an executable file{}: every run will fail to start",
                   task.name, program, found ? "" : " on PATH");
    }
  }
  std::vector<HostLock> gpu_locks;
  bool slurm = config.executor == "slurm";
  // This data directory's Slurm job names: a server finds its own runs again by them.
  std::string slurm_prefix = fmt::format(
      "vramq-{:08x}-",
      static_cast<std::uint32_t>(fnv1a(fs::absolute(config.data_dir).lexically_normal().string())));
  if (slurm) {
    // Slurm's counts are the bound on each GPU; nothing is kept back on top of them.
    config.vram_buffer_mb = 0;
    // The cluster's GPUs are read through its controller: no more often than its queue.
    config.gpu_poll_ms = std::max(config.gpu_poll_ms, config.slurm_poll_ms);
    if (config.slurm_vram == "vram") {
      spdlog::warn(
          "slurm_vram = vram: Slurm counts this VRAM per node, not per GPU; it is exact only on "
          "nodes with one GPU (use shards on nodes with several)");
    }
  }
  auto gpus =
      slurm ? core::Result<std::unique_ptr<gpu::GpuSource>>(std::make_unique<gpu::SlurmGpuSource>(
                  core::slurm_settings(config), slurm_prefix, 30'000))
            : make_gpu_source(config, gpu_locks);
  if (!gpus) {
    spdlog::error("{}", gpus.error().message);
    return 2;
  }
  auto first_sample = (*gpus)->sample({});
  if (slurm && !first_sample) {
    spdlog::error("--executor slurm: {} (is SLURM_CONF set, and slurmctld up?)",
                  first_sample.error().message);
    return 2;
  }
  if (slurm && first_sample->gpus.empty()) {
    spdlog::error(
        "--executor slurm: no node of the cluster has GPUs (Gres=gpu:N with shard or vram counts "
        "in slurm.conf)");
    return 2;
  }
  if (auto& first = first_sample; first) {
    std::vector<std::int64_t> totals;
    for (const gpu::GpuInfo& g : first->gpus)
      totals.push_back(g.total_mb);
    core::StartupReport report = core::check_against_gpus(config, *catalog, totals);
    for (const std::string& w : report.warnings)
      spdlog::warn("{}", w);
    for (const std::string& e : report.errors)
      spdlog::error("{}", e);
    if (!report.errors.empty()) return 2;
  }

  std::vector<server::Token> tokens;
  if (!config.token_file.empty()) {
    auto text = read_file(config.token_file);
    auto parsed =
        text ? server::parse_tokens(*text) : core::Result<std::vector<server::Token>>(text.error());
    if (!parsed) {
      spdlog::error("--token-file {}: {}", config.token_file, parsed.error().message);
      return 2;
    }
    tokens = std::move(*parsed);
    struct stat st {};
    if (::stat(config.token_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      spdlog::warn(
          "--token-file {}: readable by other users (mode {:04o}); anyone on this host "
          "could use its tokens: chmod 600 {}",
          config.token_file, st.st_mode & 07777, config.token_file);
    }
  }

  std::string supervisor = bin_dir() + "/vramq-supervise";
  if (!exec::is_executable_file(supervisor)) {
    spdlog::error("{} is missing: every job runs under it (it is built beside vramq)", supervisor);
    return 2;
  }
  // A store made by an older vramq (0644): its files may hold clients' env values.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string file = (fs::path(config.data_dir) / "vramq.db").string() + suffix;
    if (struct stat st{}; ::stat(file.c_str(), &st) == 0 && (st.st_mode & private_bits) != 0) {
      ::chmod(file.c_str(), st.st_mode & 07777 & ~private_bits);
    }
  }
  asio::io_context ioc(1);
  auto store = store::JobStore::open((std::filesystem::path(config.data_dir) / "vramq.db").string(),
                                     ioc.get_executor());
  if (!store) {
    spdlog::error("job store: {}", store.error().message);
    return 1;
  }
  std::unique_ptr<exec::Executor> executor;
  if (slurm) {
    auto cluster = std::make_unique<exec::SlurmExecutor>(
        ioc.get_executor(),
        exec::SlurmExecutorOptions{
            .run_dir = fs::absolute(fs::path(config.data_dir) / "run" / "slurm").string(),
            .batch_step = bin_dir() + "/vramq",
            .settings = core::slurm_settings(config),
            .name_prefix = slurm_prefix,
            .poll_ms = config.slurm_poll_ms});
    if (auto connected = cluster->connect(); !connected) {
      spdlog::error("--executor slurm: {}", connected.error().message);
      return 2;
    }
    spdlog::info("executor: Slurm cluster {} (VRAM as {}{}), jobs named {}*", cluster->cluster(),
                 config.slurm_vram == "vram" ? "a count-only vram GRES" : "shards of ",
                 config.slurm_vram == "vram" ? "" : std::to_string(config.slurm_shard_mb) + " MiB",
                 slurm_prefix);
    executor = std::move(cluster);
  } else {
    executor = std::make_unique<exec::LocalExecutor>(
        ioc.get_executor(), exec::LocalExecutorOptions{
                                .run_dir = fs::absolute(fs::path(config.data_dir) / "run").string(),
                                .supervisor = supervisor,
                                .orphan_grace_ms = config.orphan_grace_s * 1000,
                                .kill_grace_ms = config.kill_grace_s * 1000,
                                .log_limit_bytes = config.log_limit_bytes,
                                .log_mode = config.share_data_with_group ? 0640 : 0600,
                                .job_umask = static_cast<int>(job_umask)});
  }
  service::Orchestrator orchestrator(ioc, config, std::move(*catalog), std::move(*gpus),
                                     std::move(executor), std::move(*store));
  if (auto ok = orchestrator.start(); !ok) {
    spdlog::error("{}", ok.error().message);
    return 1;
  }
  // Events carry the API's shapes; set once recovery is done (it publishes nothing).
  orchestrator.events().set_encoders(
      {.job =
           [](const service::JobView& v) {
             return util::to_json_text(server::job_to_json(v, false));
           },
       .gpu =
           [](const service::GpuStatus& g) { return util::to_json_text(server::gpu_to_json(g)); },
       .worker =
           [](const service::WorkerStatus& w) {
             return util::to_json_text(server::worker_to_json(w));
           },
       .queue =
           [](const service::QueueHead& q) {
             return util::to_json_text(server::queue_head_to_json(q));
           }});
  server::Router router(orchestrator, std::move(tokens),
                        {.per_job = static_cast<std::size_t>(config.max_waiters_per_job),
                         .per_owner = static_cast<std::size_t>(config.max_waiters_per_owner)});
  core::ConnectionCap cap = core::fit_connections(config.max_connections, nofile);
  for (const std::string& w : cap.warnings)
    spdlog::warn("{}", w);
  server::HttpServer http(
      ioc, router,
      {.body_bytes = static_cast<std::size_t>(config.body_limit_bytes),
       .header_bytes = 16 << 10,
       .read_timeout = std::chrono::seconds(config.http_timeout_s),
       .first_request_timeout = std::chrono::seconds(config.first_request_timeout_s),
       .max_connections = static_cast<std::size_t>(cap.connections),
       .max_connections_per_client = static_cast<std::size_t>(config.max_connections_per_client),
       .buffered_body_bytes = static_cast<std::size_t>(config.max_buffered_body_bytes)});
  auto endpoint = http.listen(listen->host, listen->port);
  if (!endpoint) {
    spdlog::error("{}", endpoint.error().message);
    return 2;
  }
  http.start();
  asio::co_spawn(ioc, shutdown_on_signal(ioc, http, orchestrator), asio::detached);
  spdlog::info("vramq listening on http://{}:{} (data in {}, GPUs: {}, {} tasks)",
               endpoint->address().to_string(), endpoint->port(), config.data_dir,
               orchestrator.gpu_kind(), orchestrator.catalog().tasks().size());
  ioc.run();
  return 0;
}

}  // namespace vramq::app
