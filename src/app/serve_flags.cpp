#include "app/serve_flags.hpp"

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>

#include "core/config_options.hpp"

namespace vramq::app {

void add_config_flags(CLI::App& serve, core::Config& config) {
  for (const core::ConfigOption& o : core::config_options()) {
    std::string flag = core::flag_of(o);
    std::string help(o.help);
    if (auto* b = std::get_if<bool core::Config::*>(&o.field)) {
      serve.add_flag(flag, config.**b, help);
      continue;
    }
    if (auto* list = std::get_if<std::vector<std::string> core::Config::*>(&o.field)) {
      serve.add_option(flag, config.**list, help)->type_name(std::string(o.value_name));
      continue;
    }
    // `o` lives in the static table; `config` outlives the parse (the caller's promise).
    CLI::Option* opt = serve.add_option_function<std::string>(
        flag,
        [&config, &o, flag](const std::string& text) {
          if (auto r = core::apply_text(o, text, config); !r) {
            throw CLI::ValidationError(flag, r.error().message);
          }
        },
        help);
    opt->type_name(std::string(o.value_name));
    if (!o.choices.empty()) {
      opt->check(CLI::IsMember(std::vector<std::string>(o.choices.begin(), o.choices.end())));
    }
  }
}

core::Result<core::Config> read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::Error{"cannot read config file " + path};
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = core::parse_config(text.str(), core::Config{});
  if (!parsed) return core::Error{path + ": " + parsed.error().message};
  return parsed;
}

}  // namespace vramq::app
