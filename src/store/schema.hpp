#pragma once
// The job store's SQLite schema: numbered migrations (entry i brings version i to i + 1; one
// that has shipped is never edited, only appended to), applied in order at open, each in its own
// transaction with PRAGMA user_version. A database newer than this build is refused untouched.

#include "core/error.hpp"
#include "store/sqlite.hpp"

namespace vramq::store {

inline constexpr int kSchemaVersion = 14;

// Brings `db` to kSchemaVersion. Blocking.
core::Result<void> migrate(Db& db);

}  // namespace vramq::store
