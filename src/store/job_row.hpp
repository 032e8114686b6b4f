#pragma once
// A job as a row of the `jobs` table: its columns in the order every query selects them, and the
// codec both ways (lists and maps as JSON text in their columns). Pure but for SQLite's
// statement: shared by the store's writer (bind_job) and readers (read_job).

#include <string_view>

#include "core/job.hpp"
#include "store/sqlite.hpp"

namespace vramq::store {

inline constexpr std::string_view kColumns =
    "id, state, reason, task, params, argv, cwd, env, vram_mb, priority, timeout_s, max_retries, "
    "gpu, attempt, submitted_at, queued_at, started_at, finished_at, exit_code, signal, error, "
    "peak_vram_mb, output, pid, pid_start_ticks, warnings, output_truncated, retry_delay_s, "
    "after_ok, after_any, not_before, name, labels, owner, gpu_count, gpus, worker, "
    "restart_requeued, preemptible, borrowed, preemptions";

// Binds `j` to an INSERT OR REPLACE over kColumns (parameters 1..N in that order).
void bind_job(Stmt& s, const core::Job& j);
// The job in the current row of a SELECT of kColumns.
core::Job read_job(const Stmt& s);

}  // namespace vramq::store
