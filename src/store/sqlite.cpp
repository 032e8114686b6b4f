#include "store/sqlite.hpp"

#include <fmt/format.h>

namespace vramq::store {

core::Result<Db> Db::open(const std::string& path, int busy_ms) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db;
  db.db_.reset(raw);
  if (rc != SQLITE_OK) {
    return core::Error{
        fmt::format("cannot open {}: {}", path, raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
  }
  sqlite3_busy_timeout(raw, busy_ms);
  // WAL: readers never block the writer; FULL: a commit survives power loss (the 202 promise).
  for (const char* pragma :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON",
        // Freed content (an ended job's env values) is zeroed where that costs no extra I/O.
        "PRAGMA secure_delete=FAST"}) {
    if (auto r = db.exec(pragma); !r) return r.error();
  }
  return db;
}

core::Result<void> Db::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return core::Error{fmt::format("sqlite: {}: {}", msg, sql)};
  }
  return {};
}

core::Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                         SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return core::Error{fmt::format("sqlite: {}: {}", error(), sql)};
  }
  return Stmt(s);
}

}  // namespace vramq::store
