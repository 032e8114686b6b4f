#include "exec/slurm_run_record.hpp"

#include <fmt/format.h>

#include <charconv>

namespace vramq::exec {

std::string format_run_record(const SlurmRunRecord& r) {
  return fmt::format("cluster={}\nname={}\nslurm_id={}\nunclear={}\n", r.cluster, r.name,
                     r.slurm_id, r.unclear ? 1 : 0);
}

std::optional<SlurmRunRecord> parse_run_record(std::string_view text) {
  SlurmRunRecord r;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) continue;
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (key == "cluster") {
      r.cluster = value;
    } else if (key == "name") {
      r.name = value;
    } else if (key == "slurm_id") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), r.slurm_id);
      if (ec != std::errc{} || end != value.data() + value.size() || r.slurm_id < 0) {
        return std::nullopt;
      }
    } else if (key == "unclear") {
      if (value != "0" && value != "1") return std::nullopt;
      r.unclear = value == "1";
    }
  }
  if (r.name.empty()) return std::nullopt;
  return r;
}

}  // namespace vramq::exec
