#include "core/progress.hpp"

#include <re2/re2.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/text.hpp"

namespace vramq::core {
namespace {

// How many of the last lines of a tail are looked at: a bar is redrawn several times a second,
// so the newest one is among the last few unless the script prints a burst of other lines.
constexpr int kLinesLooked = 16;

// tqdm's default formats (tqdm.format_meter): with a total,
//   "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining},
//   {rate_fmt}{postfix}]"
// and without one,
//   "{desc}: {n_fmt}{unit} [{elapsed}, {rate_fmt}{postfix}]".
// rate_fmt is "{rate:5.2f}{unit}/s", "{inv_rate:5.2f}s/{unit}" below 1/s, or "?{unit}/s".
const re2::RE2& with_total() {
  static const re2::RE2 re(
      R"(^(?:(.*?): ?)?\s*(\d{1,3})%\|[^|]*\|\s*([0-9.]+[kMGTPEZY]?)/([0-9.]+[kMGTPEZY]?))"
      R"( \[([0-9:]+)<([0-9:?]+),\s*([^\],]*)[^\]]*\])");
  return re;
}
const re2::RE2& without_total() {
  static const re2::RE2 re(
      R"(^(?:(.*?): ?)?\s*([0-9.]+[kMGTPEZY]?)([A-Za-z]*) \[([0-9:]+),\s*([^\],]*)[^\]]*\])");
  return re;
}
const re2::RE2& rate_re() {
  // "15.20it/s", "?it/s", "1.23s/it", "2.50MB/s"
  static const re2::RE2 re(
      R"(^\s*(?:([0-9.]+[kMGTPEZY]?|\?)([A-Za-z]*)/s|([0-9.]+)s/([A-Za-z]*))\s*$)");
  return re;
}

std::optional<double> number(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Drops terminal control sequences (tqdm moves the cursor for nested bars: "\x1b[A").
std::string without_escapes(std::string_view line) {
  std::string out;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      i += 2;
      while (i < line.size() && !(line[i] >= '@' && line[i] <= '~'))
        ++i;
      continue;
    }
    out += line[i];
  }
  return out;
}

void set_rate(std::string_view text, Progress& p) {
  std::string rate_n, rate_unit, inv_n, inv_unit;
  if (!re2::RE2::FullMatch(text, rate_re(), &rate_n, &rate_unit, &inv_n, &inv_unit)) return;
  if (!inv_n.empty()) {
    if (auto s = number(inv_n); s && *s > 0) p.rate = 1.0 / *s;
    if (p.unit.empty()) p.unit = inv_unit;
  } else {
    if (rate_n != "?") p.rate = parse_tqdm_number(rate_n);
    if (p.unit.empty()) p.unit = rate_unit;
  }
}

std::optional<Progress> parse_line(std::string_view raw) {
  // RE2 reads UTF-8: bytes that are not (a log may hold anything) become '?' first.
  std::string line = utf8_prefix(without_escapes(raw), SIZE_MAX);
  std::string desc, percent, n, total, elapsed, remaining, rate;
  Progress p;
  if (re2::RE2::PartialMatch(line, with_total(), &desc, &percent, &n, &total, &elapsed, &remaining,
                             &rate)) {
    p.current = parse_tqdm_number(n);
    p.total = parse_tqdm_number(total);
    if (p.current && p.total && *p.total > 0) {
      p.fraction = std::clamp(*p.current / *p.total, 0.0, 1.0);
    } else if (auto pc = number(percent)) {
      p.fraction = std::clamp(*pc / 100.0, 0.0, 1.0);
    }
    p.eta_s = parse_tqdm_duration(remaining);
    set_rate(rate, p);
  } else if (std::string unit;
             re2::RE2::PartialMatch(line, without_total(), &desc, &n, &unit, &elapsed, &rate)) {
    p.current = parse_tqdm_number(n);
    if (!p.current) return std::nullopt;
    p.unit = unit;
    set_rate(rate, p);
  } else {
    return std::nullopt;
  }
  p.message = printable_prefix(trim(desc), kProgressMessageBytes);
  p.unit = printable_prefix(p.unit, kProgressUnitBytes);
  return p;
}

}  // namespace

std::optional<double> parse_tqdm_duration(std::string_view text) {
  double seconds = 0;
  int parts = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t colon = text.find(':', start);
    std::string_view part = text.substr(start, colon - start);
    auto v = number(part);
    if (part.empty() || !v || *v < 0 || ++parts > 3) return std::nullopt;
    seconds = seconds * 60 + *v;
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts == 0) return std::nullopt;
  return seconds;
}

std::optional<double> parse_tqdm_number(std::string_view text) {
  constexpr std::string_view kSuffixes = "kMGTPEZY";
  double scale = 1;
  if (!text.empty()) {
    if (std::size_t at = kSuffixes.find(text.back()); at != std::string_view::npos) {
      scale = std::pow(1000.0, static_cast<double>(at + 1));
      text.remove_suffix(1);
    }
  }
  auto v = number(text);
  if (!v || *v < 0) return std::nullopt;
  return *v * scale;
}

std::optional<Progress> parse_tqdm(std::string_view tail) {
  // The newest line that is a bar: walk back through the lines ('\r' or '\n' ended).
  std::size_t end = tail.size();
  for (int looked = 0; looked < kLinesLooked && end > 0; ++looked) {
    while (end > 0 && (tail[end - 1] == '\r' || tail[end - 1] == '\n'))
      --end;
    std::size_t start = tail.find_last_of("\r\n", end == 0 ? 0 : end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    if (start >= end) break;
    if (auto p = parse_line(tail.substr(start, end - start))) return p;
    end = start;
  }
  return std::nullopt;
}

}  // namespace vramq::core
