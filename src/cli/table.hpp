#pragma once
// Aligned text tables for people (the CLI's default output; --json is for scripts).

#include <string>
#include <vector>

namespace vramq::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;  // columns padded to their widest cell, two spaces apart

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A bar of `width` cells: '#' used by jobs, '=' used by others, '.' free.
std::string vram_bar(long long total, long long jobs, long long foreign, int width);

}  // namespace vramq::cli
