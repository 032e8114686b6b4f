#pragma once
// The server's settings: embedded defaults, then the TOML config file, then command-line flags
// (the caller applies flags on top). Parsing is from text; the caller reads the file.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace vramq::core {

struct Config {
  std::string listen = "127.0.0.1:8000";
  std::string data_dir = "./vramq-data";
  std::string gpus = "nvml";  // nvml | auto | sim:SPEC
  std::string tasks_file;     // empty: the embedded demo catalog
  std::int64_t queue_max = 10'000;
  std::int64_t vram_buffer_mb = 1024;
  std::int64_t default_vram_mb = 2048;  // raw commands without vram_mb
  bool allow_raw_commands = false;
  // Raw commands without tokens on an address other hosts can reach: refused unless this is set
  // (anyone who reaches the port could run anything as vramq's user).
  bool unsafe_raw_commands_without_tokens = false;
  std::string token_file;
  std::string owners_file;  // --owners: owners, roles, groups and limits (core/owners.hpp)
  // With tokens: "owner" (a job's params, output, logs, files and events are its owner's and
  // admins' only) or "all" (every token reads every job, as before issue 24).
  std::string visibility = "owner";
  // --run-as: the Unix user jobs run as unless their owner names one ("": vramq's own user).
  std::string run_as;
  std::int64_t backfill_bound_s = 300;
  // With owners: within a priority the queue serves first the owner with the least use, VRAM
  // MiB-seconds halved every this many seconds (core/fair_share.hpp); 0: FIFO across owners.
  std::int64_t fairshare_half_life_s = std::int64_t{7} * 86400;
  std::int64_t kill_grace_s = 10;  // SIGTERM -> SIGKILL
  // A job reclaimed for another owner's guarantee (core/reclaim.hpp): SIGTERM (a warm worker's
  // run: cancel) -> SIGKILL, then it is queued again.
  std::int64_t preempt_grace_s = 30;
  // An idle warm worker is pinged this often; one that has not answered by the next ping is
  // stopped as hung.
  std::int64_t worker_ping_ms = 5000;
  // How long a job's supervisor waits for a server to (re)attach before it ends the job.
  std::int64_t orphan_grace_s = 60;
  // At SIGTERM/SIGINT: end running jobs (interrupted) instead of leaving them to their supervisors.
  bool stop_jobs_on_exit = false;
  std::int64_t gpu_poll_ms = 500;
  std::int64_t body_limit_bytes = 1 << 20;
  // Files uploaded with one job (file parameters), all together; 413 above.
  std::int64_t max_upload_bytes = std::int64_t{1} << 30;
  // Uploads leave at least this much free on the data directory's disk; 507 otherwise.
  std::int64_t upload_reserve_mb = 1024;
  std::int64_t http_timeout_s = 30;     // a request must arrive whole within this (and each write)
  std::int64_t max_connections = 4096;  // more are refused (503) at once; lowered to fit
                                        // RLIMIT_NOFILE at start
  std::int64_t max_connections_per_client = 256;  // per IPv4 address or IPv6 /64
  // Per token holder: below the per-address cap, so that one token leaves room for the others
  // behind the same address.
  std::int64_t max_connections_per_owner = 64;
  // A new connection's first request header must arrive within this (it carries the token).
  std::int64_t first_request_timeout_s = 10;
  // Request bodies held in memory at once, across all connections.
  std::int64_t max_buffered_body_bytes = std::int64_t{64} << 20;
  // Requests that hold their connection while they wait (log followers, ?wait=, /run-script).
  std::int64_t max_waiters_per_job = 64;
  std::int64_t max_waiters_per_owner = 256;
  std::int64_t output_limit_bytes = 64 << 10;
  // Each job log file's cap (stdout.log, stderr.log); past it the job is stopped (reason
  // log_limit). 0: no cap.
  std::int64_t log_limit_bytes = std::int64_t{1} << 30;
  // The data directory is private to vramq's user (dirs 0700, files 0600); true: its group may
  // read it too (0750, 0640).
  bool share_data_with_group = false;
  // Ended jobs (their rows and directories) are removed this long after they ended (0: kept),
  // and beyond the newest retain_ended_count ended jobs (0: no count cap). Learned footprints
  // are kept either way.
  std::int64_t retain_ended_s = std::int64_t{7} * 86400;
  std::int64_t retain_ended_count = 100'000;
  std::int64_t retention_interval_s = 60;  // how often retention looks for jobs to remove
  // A running job measured above reservation * (1 + tolerance) for longer than the grace is
  // stopped (kill: its neighbours' memory is at stake) or only warned about.
  double vram_tolerance = 0.10;
  std::int64_t vram_grace_ms = 5000;
  std::string vram_policy = "kill";
  // Where the per-GPU lock files live (one vramq per GPU on a host; NVML GPUs only).
  std::string gpu_lock_dir = "/run/lock";
  // The NVML library to load for --gpus nvml|auto: the driver's soname, found the usual way.
  std::string nvml_library = "libnvidia-ml.so.1";
  // How log followers learn of writes: "inotify", or "poll" (every 2 s) where inotify sees
  // nothing, such as a data directory on NFS.
  std::string log_follow = "inotify";
  // GET /v1/events: the events kept for listeners that reconnect, by count and by size (0: no
  // events at all), and how often an idle stream sends a heartbeat comment.
  std::int64_t event_ring_size = 10'000;
  std::int64_t event_ring_mb = 64;
  std::int64_t event_heartbeat_s = 15;
  // Where jobs run: "local" (this host's GPUs) or "slurm" (a Slurm cluster, found through
  // SLURM_CONF; core/slurm_request.hpp says how a job is asked of it).
  std::string executor = "local";
  std::string slurm_partition;      // "": the cluster's default
  std::string slurm_gpu_partition;  // whole GPUs for jobs on several GPUs ("": refused)
  std::string slurm_account;
  std::vector<std::string> slurm_sbatch_args;  // appended to every sbatch as given
  std::string slurm_vram = "shard";            // shard | vram: how VRAM is asked of Slurm
  std::int64_t slurm_shard_mb = 1024;          // one shard's VRAM (gres.conf must agree)
  std::int64_t slurm_poll_ms = 1000;           // how often the cluster's queue is read
};

// Applies the keys present in `toml_text` over `base`. Unknown keys and wrong types are errors
// that name the key.
Result<Config> parse_config(std::string_view toml_text, Config base);

// Cross-field checks (positive limits, listen is HOST:PORT, ...), after flags are applied.
Result<void> validate_config(const Config& config);

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace vramq::core
