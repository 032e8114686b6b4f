#include "store/schema.hpp"

#include <fmt/format.h>

#include <iterator>

namespace vramq::store {
namespace {

// Numbered migrations: entry i brings the schema from version i to i + 1. Never edit one that
// has shipped; append.
constexpr const char* kMigrations[] = {
    R"(CREATE TABLE jobs (
         id INTEGER PRIMARY KEY,
         state TEXT NOT NULL,
         reason TEXT NOT NULL DEFAULT '',
         task TEXT NOT NULL DEFAULT '',
         params TEXT NOT NULL DEFAULT '{}',
         argv TEXT NOT NULL,
         cwd TEXT NOT NULL DEFAULT '',
         env TEXT NOT NULL DEFAULT '[]',
         vram_mb INTEGER NOT NULL,
         priority INTEGER NOT NULL DEFAULT 0,
         timeout_s INTEGER NOT NULL DEFAULT 0,
         max_retries INTEGER NOT NULL DEFAULT 0,
         gpu INTEGER,
         attempt INTEGER NOT NULL DEFAULT 1,
         submitted_at INTEGER NOT NULL,
         queued_at INTEGER NOT NULL,
         started_at INTEGER NOT NULL DEFAULT 0,
         finished_at INTEGER NOT NULL DEFAULT 0,
         exit_code INTEGER,
         signal INTEGER,
         error TEXT NOT NULL DEFAULT '',
         peak_vram_mb INTEGER,
         output TEXT NOT NULL DEFAULT '',
         pid INTEGER NOT NULL DEFAULT 0,
         pid_start_ticks INTEGER NOT NULL DEFAULT 0
       );
       CREATE INDEX jobs_unfinished ON jobs(state) WHERE state IN ('queued', 'running');)",
    R"(CREATE TABLE idempotency_keys (
         key TEXT PRIMARY KEY,
         body_hash TEXT NOT NULL,
         job_id INTEGER NOT NULL,
         created_at INTEGER NOT NULL
       );
       CREATE INDEX idempotency_keys_age ON idempotency_keys(created_at);)",
    R"(ALTER TABLE jobs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';)",
    R"(CREATE TABLE footprints (
         id INTEGER PRIMARY KEY,
         task TEXT NOT NULL,
         bucket TEXT NOT NULL,
         peak_mb INTEGER NOT NULL
       );
       CREATE INDEX footprints_bucket ON footprints(task, bucket, id);)",
    R"(ALTER TABLE footprints ADD COLUMN reserved_mb INTEGER NOT NULL DEFAULT 0;)",
    R"(ALTER TABLE jobs ADD COLUMN output_truncated INTEGER NOT NULL DEFAULT 0;)",
    R"(ALTER TABLE jobs ADD COLUMN retry_delay_s INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE jobs ADD COLUMN after_ok TEXT NOT NULL DEFAULT '[]';
       ALTER TABLE jobs ADD COLUMN after_any TEXT NOT NULL DEFAULT '[]';
       ALTER TABLE jobs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;)",
    R"(ALTER TABLE jobs ADD COLUMN name TEXT NOT NULL DEFAULT '';
       ALTER TABLE jobs ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
       ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';)",
    R"(CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);)",
    R"(ALTER TABLE jobs ADD COLUMN gpu_count INTEGER NOT NULL DEFAULT 1;
       ALTER TABLE jobs ADD COLUMN gpus TEXT NOT NULL DEFAULT '[]';)",
    // Retention finds the oldest ended jobs, and removes their keys, without a scan.
    R"(CREATE INDEX jobs_ended ON jobs(finished_at, id) WHERE state NOT IN ('queued', 'running');
       CREATE INDEX idempotency_keys_job ON idempotency_keys(job_id);)",
    R"(ALTER TABLE jobs ADD COLUMN worker INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE jobs ADD COLUMN restart_requeued INTEGER NOT NULL DEFAULT 0;)",
    R"(ALTER TABLE jobs ADD COLUMN preemptible INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE jobs ADD COLUMN borrowed INTEGER NOT NULL DEFAULT 0;)",
    R"(ALTER TABLE jobs ADD COLUMN preemptions INTEGER NOT NULL DEFAULT 0;
       CREATE TABLE usage (
         day INTEGER NOT NULL,
         owner TEXT NOT NULL,
         task TEXT NOT NULL,
         runs INTEGER NOT NULL DEFAULT 0,
         reserved_mib_s INTEGER NOT NULL DEFAULT 0,
         measured_mib_s INTEGER NOT NULL DEFAULT 0,
         gpu_s INTEGER NOT NULL DEFAULT 0,
         preempted INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (day, owner, task)
       );)",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

}  // namespace

core::Result<void> migrate(Db& db) {
  auto version_stmt = db.prepare("PRAGMA user_version");
  if (!version_stmt) return version_stmt.error();
  if (version_stmt->step() != SQLITE_ROW) return core::Error{"cannot read schema version"};
  std::int64_t version = version_stmt->int64(0);
  if (version > kSchemaVersion) {
    return core::Error{fmt::format(
        "the database has schema version {}, newer than this vramq ({}): refusing to touch it",
        version, kSchemaVersion)};
  }
  for (auto v = version; v < kSchemaVersion; ++v) {
    if (auto r = db.exec("BEGIN IMMEDIATE"); !r) return r.error();
    auto r = db.exec(kMigrations[v]);
    std::string set_version = fmt::format("PRAGMA user_version = {}", v + 1);
    if (r) r = db.exec(set_version.c_str());
    if (r) r = db.exec("COMMIT");
    if (!r) {
      (void)db.exec("ROLLBACK");
      return core::Error{fmt::format("schema migration {} failed: {}", v + 1, r.error().message)};
    }
  }
  return {};
}

}  // namespace vramq::store
