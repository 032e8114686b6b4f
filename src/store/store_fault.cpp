#include "store/store_fault.hpp"

#include <sqlite3.h>

namespace vramq::store {

StoreFault classify_sqlite(int code) {
  switch (code & 0xff) {
    case SQLITE_FULL:
      return StoreFault::full;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreFault::busy;
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StoreFault::io;
    default:
      return StoreFault::none;
  }
}

std::string_view to_string(StoreFault f) {
  switch (f) {
    case StoreFault::none:
      return "";
    case StoreFault::full:
      return "full";
    case StoreFault::busy:
      return "busy";
    case StoreFault::io:
      return "io";
  }
  return "";
}

}  // namespace vramq::store
