#include "store/usage_table.hpp"

#include <fmt/format.h>

namespace vramq::store {

core::Result<Stmt> prepare_add_usage(Db& db) {
  return db.prepare(
      "INSERT INTO usage (day, owner, task, runs, reserved_mib_s, measured_mib_s, gpu_s, "
      "preempted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (day, owner, task) DO "
      "UPDATE SET runs = runs + ?4, reserved_mib_s = reserved_mib_s + ?5, "
      "measured_mib_s = measured_mib_s + ?6, gpu_s = gpu_s + ?7, preempted = preempted + ?8");
}

core::Result<void> add_usage(Stmt& add, const UsageRow& run) {
  add.reset();
  add.bind(1, run.day);
  add.bind(2, run.owner);
  add.bind(3, run.task);
  add.bind(4, run.runs);
  add.bind(5, run.reserved_mib_s);
  add.bind(6, run.measured_mib_s);
  add.bind(7, run.gpu_s);
  add.bind(8, run.preempted);
  bool ok = add.step() == SQLITE_DONE;
  add.reset();
  if (!ok) return core::Error{"recording usage"};
  return {};
}

core::Result<std::vector<UsageRow>> query_usage(Db& db, const UsageQuery& q) {
  // The grouped columns come from the query's flags, never from the client's text.
  std::string keys = fmt::format("{}, {}, {}", q.by_day ? "day" : "0", q.by_owner ? "owner" : "''",
                                 q.by_task ? "task" : "''");
  std::string sql = fmt::format(
      "SELECT {0}, SUM(runs), SUM(reserved_mib_s), SUM(measured_mib_s), SUM(gpu_s), "
      "SUM(preempted) FROM usage WHERE day >= ?1 AND day <= ?2{1} GROUP BY 1, 2, 3 "
      "ORDER BY 1, 2, 3",
      keys, q.owner.empty() ? "" : " AND owner = ?3");
  auto s = db.prepare(sql);
  if (!s) return s.error();
  s->bind(1, q.from_day);
  s->bind(2, q.to_day);
  if (!q.owner.empty()) s->bind(3, q.owner);
  std::vector<UsageRow> out;
  int rc = 0;
  while ((rc = s->step()) == SQLITE_ROW) {
    out.push_back({.day = s->int64(0),
                   .owner = s->text(1),
                   .task = s->text(2),
                   .runs = s->int64(3),
                   .reserved_mib_s = s->int64(4),
                   .measured_mib_s = s->int64(5),
                   .gpu_s = s->int64(6),
                   .preempted = s->int64(7)});
  }
  if (rc != SQLITE_DONE) return core::Error{db.error()};
  return out;
}

}  // namespace vramq::store
