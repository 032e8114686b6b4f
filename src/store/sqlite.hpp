#pragma once
// A thin RAII layer over SQLite's C API: one connection (Db), prepared statements (Stmt).
// Errors are values carrying SQLite's message. A Db is used by one thread at a time.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace vramq::store {

class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* s) : stmt_(s) {}
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_.get(), i, v); }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_.get(), i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, std::optional<std::int64_t> v) {
    if (v)
      bind(i, *v);
    else
      sqlite3_bind_null(stmt_.get(), i);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_.get()); }
  void reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
  }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  std::optional<std::int64_t> opt_int64(int col) const {
    if (sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL) return std::nullopt;
    return int64(col);
  }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_.get(), col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), col)))
             : std::string();
  }
  explicit operator bool() const { return stmt_ != nullptr; }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

class Db {
 public:
  // `busy_ms`: how long a statement waits for a lock another connection holds before SQLITE_BUSY.
  static core::Result<Db> open(const std::string& path, int busy_ms = 5000);
  core::Result<void> exec(const char* sql);
  core::Result<Stmt> prepare(std::string_view sql);
  std::string error() const { return sqlite3_errmsg(db_.get()); }
  int code() const { return sqlite3_extended_errcode(db_.get()); }  // of the last call that failed
  sqlite3* get() const { return db_.get(); }

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

}  // namespace vramq::store
