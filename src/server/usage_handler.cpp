// GET /v1/usage (issue 24): VRAM and GPU time used, per owner, task and day, as sreport gives
// it; kept after retention prunes the jobs. A user reads its own; admins read everyone's.
#include <fmt/format.h>
#include <boost/json.hpp>

#include <charconv>
#include <chrono>
#include <limits>

#include "server/problem.hpp"
#include "server/router.hpp"
#include "server/visibility.hpp"
#include "util/json_text.hpp"

namespace vramq::server {
namespace {

namespace json = boost::json;
using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

// "YYYY-MM-DD" as days since 1970-01-01, or nullopt.
std::optional<std::int64_t> parse_day(std::string_view text) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto num = [&](std::size_t at, std::size_t len, auto& out) {
    auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + len, out);
    return ec == std::errc{} && end == text.data() + at + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd}.time_since_epoch().count();
}

std::string day_text(std::int64_t day) {
  year_month_day ymd{sys_days{days{day}}};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

}  // namespace

boost::asio::awaitable<Response> handle_usage(const Request& req, service::Orchestrator& o) {
  auto today =
      std::chrono::floor<days>(std::chrono::system_clock::now()).time_since_epoch().count();
  store::UsageQuery q{.from_day = today - 30, .to_day = today};
  for (auto [name, field] : {std::pair{"from", &q.from_day}, std::pair{"to", &q.to_day}}) {
    if (auto text = req.query_param(name)) {
      std::optional<std::int64_t> day = parse_day(*text);
      if (!day) {
        co_return problem(Problem::bad_request,
                          fmt::format("{} must be a date, YYYY-MM-DD (got '{}')", name, *text),
                          name);
      }
      *field = *day;
    }
  }
  if (q.from_day > q.to_day) {
    co_return problem(Problem::bad_request, "from is after to", "from");
  }
  q.by_owner = false;
  json::array by;
  std::string_view list = req.query_param("by").value_or("owner");
  while (!list.empty()) {
    std::string_view word = list.substr(0, list.find(','));
    list.remove_prefix(std::min(list.size(), word.size() + 1));
    bool* flag = word == "owner"  ? &q.by_owner
                 : word == "task" ? &q.by_task
                 : word == "day"  ? &q.by_day
                                  : nullptr;
    if (flag == nullptr) {
      co_return problem(
          Problem::bad_request,
          fmt::format("by takes owner, task and day, comma-separated (got '{}')", word), "by");
    }
    if (!*flag) by.emplace_back(word);
    *flag = true;
  }
  std::string asked(req.query_param("owner").value_or(""));
  if (!reads_every_job(req, o.config())) {
    // A user's own use only (its name fills the filter).
    if (!asked.empty() && asked != req.principal) {
      co_return problem(Problem::forbidden,
                        fmt::format("{} may read only its own usage", req.principal), "owner");
    }
    asked = req.principal;
  }
  q.owner = asked;
  auto rows = co_await o.usage(q);
  if (!rows) co_return problem(Problem::unavailable, rows.error().message);
  json::array out;
  for (const store::UsageRow& r : *rows) {
    out.push_back(
        json::object{{"day", q.by_day ? json::value(day_text(r.day)) : json::value(nullptr)},
                     {"owner", q.by_owner ? json::value(r.owner) : json::value(nullptr)},
                     {"task", q.by_task ? json::value(r.task) : json::value(nullptr)},
                     {"runs", r.runs},
                     {"reserved_mib_s", r.reserved_mib_s},
                     {"measured_mib_s", r.measured_mib_s},
                     {"gpu_s", r.gpu_s},
                     {"preempted", r.preempted}});
  }
  co_return Response{.body = util::to_json_text(json::object{{"from", day_text(q.from_day)},
                                                             {"to", day_text(q.to_day)},
                                                             {"by", std::move(by)},
                                                             {"rows", std::move(out)}})};
}

}  // namespace vramq::server
