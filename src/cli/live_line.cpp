#include "cli/live_line.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>

#include "cli/json_fields.hpp"
#include "core/text.hpp"

namespace vramq::cli {
namespace json = boost::json;
namespace {

std::string gpus_of(const json::object& j) {
  std::string out;
  if (const json::value* g = j.if_contains("gpus"); g != nullptr && g->is_array()) {
    for (const json::value& i : g->get_array())
      out += (out.empty() ? "" : ",") + json::serialize(i);
  }
  return out;
}

}  // namespace

std::string_view reason_words(std::string_view r) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 15> kWords = {{
      {"vram", "waiting for VRAM to free up"},
      {"priority", "held back for a higher-priority job"},
      {"head_of_line", "held back for an older job that waited too long"},
      {"draining", "the server is shutting down"},
      {"gpu_unknown", "its GPUs cannot be read"},
      {"dependency", "waiting for the jobs it runs after"},
      {"retry_delay", "waiting out its retry delay"},
      {"start_failed", "its start failed on this host; trying again soon"},
      {"worker_busy", "its task's warm workers are all busy"},
      {"worker_unloading", "idle warm workers are unloading to make room"},
      {"worker_backoff", "its task's workers keep crashing; backing off"},
      {"cluster", "waiting in the Slurm cluster's queue"},
      {"quota", "its owner is at a limit, or above its guarantee"},
      {"reclaiming", "borrowed jobs are being stopped to make room for its owner's guarantee"},
      {"none", "about to start"},
  }};
  for (const auto& [k, w] : kWords) {
    if (r == k) return w;
  }
  return r;
}

std::string progress_bar(double fraction, int width) {
  fraction = std::clamp(std::isfinite(fraction) ? fraction : 0.0, 0.0, 1.0);
  int filled = static_cast<int>(std::floor(fraction * width + 1e-9));
  return "[" + std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '-') + "]";
}

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds)) seconds = 0;
  auto s = static_cast<std::int64_t>(std::clamp(std::round(seconds), 0.0, 1e9));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string mib_text(std::int64_t mib) {
  if (mib < 1024) return fmt::format("{} MiB", mib);
  return fmt::format("{:.1f} GiB", static_cast<double>(mib) / 1024.0);
}

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS.mmmZ, as the server writes it
  if (t.size() != 24 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
      t[16] != ':' || t[19] != '.' || t[23] != 'Z') {
    return std::nullopt;
  }
  auto field = [&](std::size_t at, std::size_t len) -> std::optional<int> {
    int v = 0;
    auto [end, ec] = std::from_chars(t.data() + at, t.data() + at + len, v);
    if (ec != std::errc{} || end != t.data() + at + len) return std::nullopt;
    return v;
  };
  auto y = field(0, 4), mo = field(5, 2), d = field(8, 2), h = field(11, 2), mi = field(14, 2),
       s = field(17, 2), ms = field(20, 3);
  if (!y || !mo || !d || !h || !mi || !s || !ms) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(*y), std::chrono::month(*mo),
                                  std::chrono::day(*d)};
  if (!ymd.ok()) return std::nullopt;
  auto days = std::chrono::sys_days(ymd).time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(days).count() +
         ((*h * 60 + *mi) * 60 + *s) * std::int64_t{1000} + *ms;
}

std::string live_line(const json::object& j, std::int64_t now_ms) {
  std::string id = j.contains("id") ? json::serialize(j.at("id")) : "?";
  std::string state = text_field(j, "state");
  if (state == "queued") {
    std::string out = fmt::format("job {} queued", id);
    if (auto pos = number_field(j, "queue_position")) {  // 0: the next to start
      auto ahead = static_cast<std::int64_t>(*pos);
      out += ahead == 0 ? std::string(" · next in line") : fmt::format(" · {} ahead", ahead);
    }
    std::string reason = text_field(j, "pending_reason");
    if (!reason.empty()) out += fmt::format(" · {}", reason_words(reason));
    if (auto mb = number_field(j, "vram_mb")) {
      out += fmt::format(" ({})", mib_text(static_cast<std::int64_t>(*mb)));
    }
    return out;
  }
  if (state != "running") return fmt::format("job {} {}", id, state);
  std::string out = fmt::format("job {} running on GPU {}", id, gpus_of(j));
  if (const json::value* p = j.if_contains("progress"); p != nullptr && p->is_object()) {
    const json::object& prog = p->get_object();
    std::string message = core::printable_prefix(text_field(prog, "message"), 200);
    out += " ·";
    if (!message.empty()) out += " " + message;
    if (auto f = number_field(prog, "fraction")) {
      out += fmt::format(" {} {:.0f}%", progress_bar(*f, 20), *f * 100);
    }
    auto cur = number_field(prog, "current");
    auto tot = number_field(prog, "total");
    if (cur && tot) {
      out += fmt::format(" {:g}/{:g}", *cur, *tot);
    } else if (cur) {
      out += fmt::format(" {:g}", *cur);
    }
    if (std::string unit = core::printable_prefix(text_field(prog, "unit"), 16);
        !unit.empty() && cur) {
      out += " " + unit;
    }
    if (auto eta = number_field(prog, "eta_s")) out += fmt::format(" · ETA {}", clock_text(*eta));
  }
  auto reserved = number_field(j, "vram_mb");
  if (auto used = number_field(j, "measured_vram_mb"); used && reserved) {
    out += fmt::format(" · VRAM {} of {}", mib_text(static_cast<std::int64_t>(*used)),
                       mib_text(static_cast<std::int64_t>(*reserved)));
  } else if (reserved) {
    out += fmt::format(" · {} reserved", mib_text(static_cast<std::int64_t>(*reserved)));
  }
  if (auto started = parse_rfc3339_ms(text_field(j, "started_at"))) {
    out += fmt::format(" · {}", clock_text(static_cast<double>(now_ms - *started) / 1000.0));
  }
  return out;
}

std::string live_key(const json::object& j) {
  std::string state = text_field(j, "state");
  if (state == "queued") {
    std::string pos;
    if (auto p = number_field(j, "queue_position"))
      pos = std::to_string(static_cast<std::int64_t>(*p));
    return fmt::format("queued {} {}", pos, text_field(j, "pending_reason"));
  }
  if (state == "running") return "running " + gpus_of(j);
  return state;
}

}  // namespace vramq::cli
