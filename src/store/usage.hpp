#pragma once
// What usage accounting keeps (issue 24), without the SQL (store/usage_table.hpp).

#include <cstdint>
#include <string>

namespace vramq::store {

// One row: a day (days since 1970-01-01 UTC, the day the runs ended), an owner and a task ("" for
// raw commands), and what their runs used. Also a query's answer, summed over what it groups away.
struct UsageRow {
  std::int64_t day = 0;
  std::string owner;
  std::string task;
  std::int64_t runs = 0;
  std::int64_t reserved_mib_s = 0;  // reservation x GPUs x seconds
  std::int64_t measured_mib_s = 0;  // measured use x seconds (0 where not measured)
  std::int64_t gpu_s = 0;           // GPUs x seconds
  std::int64_t preempted = 0;       // runs that ended preempted
  bool operator==(const UsageRow&) const = default;
};

struct UsageQuery {
  std::int64_t from_day = 0;  // both ends included
  std::int64_t to_day = 0;
  bool by_owner = true;
  bool by_task = false;
  bool by_day = false;
  std::string owner;  // "": every owner
};

}  // namespace vramq::store
