#include "cli/table.hpp"

#include <algorithm>

namespace vramq::cli {

std::string Table::render() const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string vram_bar(long long total, long long jobs, long long foreign, int width) {
  if (total <= 0) return std::string(static_cast<std::size_t>(width), '?');
  auto cells = [&](long long mb) {
    return static_cast<int>(std::clamp(mb * width / total, 0LL, static_cast<long long>(width)));
  };
  int j = cells(jobs);
  int f = std::min(cells(foreign), width - j);
  return "[" + std::string(static_cast<std::size_t>(j), '#') +
         std::string(static_cast<std::size_t>(f), '=') +
         std::string(static_cast<std::size_t>(width - j - f), '.') + "]";
}

}  // namespace vramq::cli
