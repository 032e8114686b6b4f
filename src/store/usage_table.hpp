#pragma once
// Usage accounting (issue 24): each run's use added to a row per day, owner and task, kept after
// retention prunes the jobs (as Slurm's accounting outlives its jobs). SQL only; the store's
// writer and reader threads call these.

#include <vector>

#include "core/error.hpp"
#include "store/sqlite.hpp"
#include "store/usage.hpp"

namespace vramq::store {

// The statement that adds a run's use to its row (bind with add_usage).
core::Result<Stmt> prepare_add_usage(Db& db);
core::Result<void> add_usage(Stmt& add, const UsageRow& run);
// Rows grouped as the query says (fields grouped away are 0 / ""), by day, owner, task.
core::Result<std::vector<UsageRow>> query_usage(Db& db, const UsageQuery& q);

}  // namespace vramq::store
