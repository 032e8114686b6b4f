#include "cli/top_view.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdint>

#include "cli/json_fields.hpp"
#include "cli/live_line.hpp"

namespace vramq::cli {
namespace json = boost::json;
namespace {

// Keeps a terminal's lines ASCII: whatever a job named itself cannot move the cursor.
std::string ascii(std::string_view s) {
  std::string out;
  for (char c : s)
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

std::string gib(std::int64_t mib) {
  return fmt::format("{:.1f}", static_cast<double>(mib) / 1024.0);
}

std::string cut(std::string s, int cols) {
  if (cols > 0 && static_cast<int>(s.size()) > cols) s.resize(static_cast<std::size_t>(cols));
  return s;
}

}  // namespace

void TopModel::apply(std::string_view type, const json::object& data) {
  if (type == "job") {
    std::int64_t id = integer_field(data, "id");
    if (text_field(data, "state") == "running") {
      running[id] = data;
    } else {
      running.erase(id);
    }
  } else if (type == "gpu") {
    gpus[integer_field(data, "index")] = data;
  } else if (type == "worker") {
    std::int64_t id = integer_field(data, "id");
    if (text_field(data, "state") == "exited") {
      workers.erase(id);
    } else {
      workers[id] = data;
    }
  } else if (type == "queue") {
    queue = data;
  }
}

std::vector<std::int64_t> selectable(const TopModel& m) {
  std::vector<std::int64_t> out;
  for (const auto& [id, j] : m.running)
    out.push_back(id);
  if (const json::value* head = m.queue.if_contains("head"); head != nullptr && head->is_array()) {
    for (const json::value& item : head->get_array()) {
      if (item.is_object()) out.push_back(integer_field(item.get_object(), "id"));
    }
  }
  return out;
}

std::string gpu_bar(const json::object& g, int width) {
  std::int64_t total = std::max<std::int64_t>(1, integer_field(g, "total_mb"));
  std::int64_t used = integer_field(g, "used_mb");
  std::int64_t foreign = std::min(integer_field(g, "foreign_mb"), used);
  std::int64_t measured = std::max<std::int64_t>(0, used - foreign);
  std::int64_t reserved = std::max<std::int64_t>(0, integer_field(g, "committed_mb") - measured);
  std::string bar;
  auto cells = [&](std::int64_t upto_mb) {
    return static_cast<int>(std::lround(static_cast<double>(std::min(upto_mb, total)) * width /
                                        static_cast<double>(total)));
  };
  int a = cells(measured), b = cells(measured + reserved), c = cells(measured + reserved + foreign);
  for (int i = 0; i < width; ++i)
    bar += i < a ? '#' : i < b ? '+' : i < c ? '=' : '.';
  return "[" + bar + "]";
}

std::vector<std::string> render_top(const TopModel& m, const TopFrame& f) {
  std::vector<std::string> lines;
  std::int64_t queued = integer_field(m.queue, "queued"),
               waiting = integer_field(m.queue, "waiting");
  lines.push_back(fmt::format(
      "vramq {} | {} running | {} queued{} | {} workers", f.title, m.running.size(), queued,
      waiting > 0 ? fmt::format(" (+{} waiting)", waiting) : "", m.workers.size()));
  lines.emplace_back();
  for (const auto& [index, g] : m.gpus) {
    std::int64_t total = integer_field(g, "total_mb");
    std::string known = g.contains("known") && g.at("known").is_bool() && !g.at("known").get_bool()
                            ? "  CANNOT BE READ"
                            : "";
    lines.push_back(fmt::format(
        "GPU {} {} {} {}/{} GiB used, {} reserved, {} foreign, {} free{}", index,
        ascii(text_field(g, "name")).substr(0, 24), gpu_bar(g, 30),
        gib(integer_field(g, "used_mb")), gib(total), gib(integer_field(g, "reserved_mb")),
        gib(integer_field(g, "foreign_mb")), gib(integer_field(g, "available_mb")), known));
  }
  lines.emplace_back("      # vramq's jobs (measured)  + reserved, not used yet  = others  . free");
  lines.emplace_back();
  auto mark = [&](std::int64_t id) { return id == f.selected ? "> " : "  "; };
  lines.push_back(fmt::format("  {:<7} {:<16} {:<4} {:<30} {:>8} {:>13} {:>8}", "RUNNING", "TASK",
                              "GPU", "PROGRESS", "ETA", "VRAM used/res", "TIME"));
  for (const auto& [id, j] : m.running) {
    std::string progress = "-", eta = "-";
    if (const json::value* p = j.if_contains("progress"); p != nullptr && p->is_object()) {
      const json::object& po = p->get_object();
      if (auto fr = number_field(po, "fraction")) {
        progress = fmt::format("{} {:3.0f}% ", progress_bar(*fr, 10), *fr * 100);
      } else {
        progress.clear();
      }
      progress += ascii(text_field(po, "message"));
      if (auto e = number_field(po, "eta_s")) eta = clock_text(*e);
    }
    std::string gpus;
    if (const json::value* g = j.if_contains("gpus"); g != nullptr && g->is_array()) {
      for (const json::value& i : g->get_array())
        gpus += (gpus.empty() ? "" : ",") + json::serialize(i);
    }
    std::string used = j.contains("measured_vram_mb") && j.at("measured_vram_mb").is_number()
                           ? gib(integer_field(j, "measured_vram_mb"))
                           : "?";
    std::string elapsed = "-";
    if (auto started = parse_rfc3339_ms(text_field(j, "started_at"))) {
      elapsed = clock_text(static_cast<double>(f.now_ms - *started) / 1000.0);
    }
    std::string task = text_field(j, "task").empty() ? "(command)" : ascii(text_field(j, "task"));
    lines.push_back(fmt::format(
        "{}{:<7} {:<16.16} {:<4} {:<30.30} {:>8} {:>13} {:>8}", mark(id), id, task, gpus, progress,
        eta, fmt::format("{}/{} GiB", used, gib(integer_field(j, "vram_mb"))), elapsed));
  }
  lines.emplace_back();
  lines.push_back(fmt::format("  {:<7} {:<16} {:>9} {:>4}  {}", "QUEUED", "TASK", "VRAM", "PRI",
                              "WHY IT WAITS"));
  if (const json::value* head = m.queue.if_contains("head"); head != nullptr && head->is_array()) {
    for (const json::value& item : head->get_array()) {
      if (!item.is_object()) continue;
      const json::object& q = item.get_object();
      std::int64_t id = integer_field(q, "id");
      std::string task = text_field(q, "task").empty() ? "(command)" : ascii(text_field(q, "task"));
      std::string why = text_field(q, "pending_reason");
      lines.push_back(fmt::format("{}{:<7} {:<16.16} {:>9} {:>4}  {}", mark(id), id, task,
                                  mib_text(integer_field(q, "vram_mb")),
                                  integer_field(q, "priority"),
                                  why.empty() ? "-" : std::string(reason_words(why))));
    }
  }
  if (!m.workers.empty()) {
    lines.emplace_back();
    lines.push_back(fmt::format("  {:<7} {:<16} {:<4} {:<10} {:>9} {:>6}", "WORKER", "TASK", "GPU",
                                "STATE", "VRAM", "RUNS"));
    for (const auto& [id, w] : m.workers) {
      lines.push_back(fmt::format(
          "  {:<7} {:<16.16} {:<4} {:<10} {:>9} {:>6}", id, ascii(text_field(w, "task")),
          integer_field(w, "gpu"), ascii(text_field(w, "state")),
          mib_text(integer_field(w, "resident_mb")), integer_field(w, "runs")));
    }
  }
  // The footer stays on the last line however little room there is.
  std::size_t room = static_cast<std::size_t>(std::max(1, f.rows - 1));
  if (lines.size() > room) lines.resize(room);
  while (lines.size() < room)
    lines.emplace_back();
  lines.push_back(f.footer);
  for (std::string& l : lines)
    l = cut(std::move(l), f.cols);
  return lines;
}

}  // namespace vramq::cli
