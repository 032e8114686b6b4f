#pragma once
// Why the job store cannot write, as far as the API and /readyz tell it: its disk is full,
// another process holds its write lock, or the disk failed a write or an fsync. A fault that is
// not the store's (a bad row) is none. Pure.

#include <string_view>

namespace vramq::store {

enum class StoreFault { none, full, busy, io };

// From an SQLite result code (extended or primary).
StoreFault classify_sqlite(int code);

std::string_view to_string(StoreFault f);  // "", "full", "busy", "io"

}  // namespace vramq::store
