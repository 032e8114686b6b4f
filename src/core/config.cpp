#include "core/config.hpp"

#include "core/scheduler.hpp"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <charconv>

#include "core/config_options.hpp"
#include "core/owners.hpp"

namespace vramq::core {
namespace {

// One TOML value into the option's field, by the field's type; a value written as text (or a
// number) for an option that parses text (durations, percentages) goes through that parser.
Result<void> read_value(const ConfigOption& o, const toml::node& node, Config& c) {
  auto wrong = [&](std::string_view what) {
    return Error{fmt::format("config: '{}' must be {}", o.key, what)};
  };
  if (o.from_text != nullptr && (node.is_string() || node.is_number())) {
    std::string text = node.is_string()    ? *node.value<std::string>()
                       : node.is_integer() ? std::to_string(*node.value<std::int64_t>())
                                           : fmt::format("{}", *node.value<double>());
    if (auto r = o.from_text(text, c); !r) {
      return Error{fmt::format("config: '{}': {}", o.key, r.error().message)};
    }
    return {};
  }
  return std::visit(
      [&](auto member) -> Result<void> {
        auto& out = c.*member;
        using T = std::remove_reference_t<decltype(out)>;
        if constexpr (std::is_same_v<T, bool>) {
          if (!node.is_boolean()) return wrong("true or false");
          out = *node.value<bool>();
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (!node.is_string()) return wrong("a string");
          out = *node.value<std::string>();
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          const toml::array* a = node.as_array();
          if (a == nullptr || (!a->empty() && !a->is_homogeneous(toml::node_type::string))) {
            return wrong("a list of strings");
          }
          out.clear();
          for (const toml::node& e : *a)
            out.push_back(*e.value<std::string>());
        } else if constexpr (std::is_same_v<T, double>) {
          if (!node.is_number()) return wrong("a number");
          out = *node.value<double>();
        } else {
          if (!node.is_integer()) return wrong("an integer");
          out = *node.value<std::int64_t>();
        }
        return {};
      },
      o.field);
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, Config c) {
  toml::table t;
  try {
    t = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Error{fmt::format("config: line {}: {}", e.source().begin.line, e.description())};
  }
  for (auto&& [key, node] : t) {
    const ConfigOption* o = find_option(key.str());
    if (o == nullptr) return Error{fmt::format("config: unknown key '{}'", key.str())};
    if (auto r = read_value(*o, node, c); !r) return r.error();
    if (auto r = check_option(*o, c); !r) return Error{"config: " + r.error().message};
  }
  return c;
}

Result<void> validate_config(const Config& c) {
  for (const ConfigOption& o : config_options()) {
    if (auto r = check_option(o, c); !r) return r;
  }
  // What involves more than one option.
  if (auto hp = parse_host_port(c.listen); !hp) return hp.error();
  if (c.max_buffered_body_bytes < c.body_limit_bytes) {
    return Error{"max_buffered_body_bytes must be >= body_limit_bytes (one body must fit)"};
  }
  if (!c.owners_file.empty() && !c.token_file.empty()) {
    return Error{
        "owners and token_file: give one (the owners file names the tokens itself; "
        "`vramq token hash` turns a token file's secrets into its hashes)"};
  }
  if (!c.run_as.empty() && !is_unix_user_name(c.run_as)) {
    return Error{fmt::format("run_as '{}' is not a Unix user name", c.run_as)};
  }
  if (!c.slurm_gpu_partition.empty() && c.slurm_gpu_partition == c.slurm_partition) {
    return Error{
        "slurm_gpu_partition must differ from slurm_partition: a partition must not mix whole "
        "GPUs with shards (Slurm 22.05 can give a whole GPU whose shards are in use)"};
  }
  return {};
}

Result<HostPort> parse_host_port(std::string_view text) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error{fmt::format("listen '{}' must be HOST:PORT", text)};
  }
  HostPort hp;
  hp.host = std::string(text.substr(0, colon));
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  std::string_view port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), hp.port);
  if (ec != std::errc{} || end != port.data() + port.size()) {
    return Error{fmt::format("listen '{}': port must be 0..65535", text)};
  }
  return hp;
}

SchedulerConfig scheduler_config(const Config& config) {
  return {.buffer_mb = config.vram_buffer_mb, .backfill_bound_ms = config.backfill_bound_s * 1000};
}

}  // namespace vramq::core
