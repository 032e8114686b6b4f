#include "core/task_catalog.hpp"

#include "core/file_param.hpp"
#include "core/media_type.hpp"
#include "core/toml_fields.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

namespace vramq::core {
namespace {

constexpr std::string_view kParamTypeNames[] = {"int", "float", "string", "enum", "path", "file"};
// A pattern is the catalog author's, but bounded all the same: its compiled program and the
// DFA's cache (RE2 falls back to its slower NFA, never to more memory, when the cache is full).
constexpr std::size_t kMaxPatternBytes = 4096;
constexpr std::int64_t kMaxTimeoutS = std::int64_t{366} * 86400;  // a year
constexpr std::int64_t kPatternMemoryBytes = std::int64_t{8} << 20;

Error key_error(std::string_view where, std::string_view what) {
  return Error{fmt::format("task catalog: {}: {}", where, what)};
}

// The shared field readers (core/toml_fields.hpp), naming this file in their errors.
Result<void> check_keys(const toml::table& t, std::string_view where,
                        std::initializer_list<std::string_view> allowed) {
  return core::check_keys(t, {.file = "task catalog", .where = where}, allowed);
}

Result<std::vector<std::string>> string_array(const toml::node* node, std::string_view where) {
  return core::string_array(node, {.file = "task catalog", .where = where});
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos;
       pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

// The directories a catalog's argv and cwd may name, filled in at load time.
struct CatalogDirs {
  std::string_view bin_dir;      // {bin_dir}: where vramq's own binaries are
  std::string_view catalog_dir;  // {catalog_dir}: where the catalog file is ("": not a file)
  std::string fill(std::string s) const {
    s = replace_all(std::move(s), "{bin_dir}", bin_dir);
    return catalog_dir.empty() ? s : replace_all(std::move(s), "{catalog_dir}", catalog_dir);
  }
};

// Every {name} in a template must be a parameter or one of the built-in placeholders.
Result<void> check_placeholders(std::string_view text, const std::vector<ParamDef>& params,
                                std::string_view where) {
  for (std::size_t open = text.find('{'); open != std::string_view::npos;
       open = text.find('{', open + 1)) {
    std::size_t close = text.find('}', open);
    if (close == std::string_view::npos) return key_error(where, "unclosed '{'");
    std::string_view name = text.substr(open + 1, close - open - 1);
    bool known = name == "job_dir" || name == "job_id" ||
                 std::ranges::any_of(params, [&](const ParamDef& p) { return p.name == name; });
    if (!known) return key_error(where, fmt::format("unknown placeholder '{{{}}}'", name));
  }
  return {};
}

Result<std::int64_t> integer_key(const toml::table& t, std::string_view key, std::string_view where,
                                 std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  return core::integer_key(t, key, {.file = "task catalog", .where = where}, fallback, lo, hi);
}

Result<ParamValue> typed_default(const toml::node& node, const ParamDef& p,
                                 std::string_view where) {
  switch (p.type) {
    case ParamType::integer:
      if (auto v = node.value_exact<std::int64_t>()) return ParamValue{*v};
      break;
    case ParamType::number:
      if (auto v = node.value<double>(); v && (node.is_floating_point() || node.is_integer())) {
        return ParamValue{*v};
      }
      break;
    default:
      if (auto v = node.value_exact<std::string>()) return ParamValue{*v};
      break;
  }
  return key_error(where, fmt::format("default must be of type {}", to_string(p.type)));
}

boost::system::result<ParamValue, ParamError> check_value(const ParamDef& p, const ParamInput& in,
                                                          const PathResolver& resolve);

ParamInput as_input(const ParamValue& v) {
  return std::visit([](const auto& x) { return ParamInput{x}; }, v);
}

// A file parameter's max_bytes and media_types (refused on other types).
Result<void> parse_file_limits(const toml::table& t, const std::string& where, ParamDef& p) {
  bool file = p.type == ParamType::file;
  if (!file && (t.contains("max_bytes") || t.contains("media_types"))) {
    return key_error(where, "max_bytes and media_types are for type = \"file\"");
  }
  if (!file) return {};
  if (!plain_file_name(p.name)) {
    return key_error(where, "a file parameter's name must be letters, digits, '_', '-' and '.'");
  }
  auto max = integer_key(t, "max_bytes", where, 0, 1, std::int64_t{1} << 50);
  if (!max) return max.error();
  p.max_bytes = *max;
  auto types = string_array(t.get("media_types"), where + ".media_types");
  if (!types) return types.error();
  for (const std::string& m : *types) {
    if (!valid_media_pattern(m)) {
      return key_error(where + ".media_types",
                       fmt::format("'{}' is not a media type such as \"image/png\" or "
                                   "\"image/*\" (lower case)",
                                   m));
    }
  }
  p.media_types = std::move(*types);
  return {};
}

Result<ParamDef> parse_param(std::string_view name, const toml::node& node, std::string_view task) {
  std::string where = fmt::format("tasks.{}.params.{}", task, name);
  const toml::table* t = node.as_table();
  if (t == nullptr) return key_error(where, "must be a table such as { type = \"int\" }");
  if (auto ok = check_keys(*t, where,
                           {"type", "description", "min", "max", "default", "pattern", "max_length",
                            "values", "under", "max_bytes", "media_types"});
      !ok) {
    return ok.error();
  }
  ParamDef p;
  p.name = std::string(name);
  auto type = (*t)["type"].value<std::string>();
  auto it = type ? std::ranges::find(kParamTypeNames, *type) : std::end(kParamTypeNames);
  if (it == std::end(kParamTypeNames)) {
    return key_error(where, "type must be one of int, float, string, enum, path, file");
  }
  p.type = static_cast<ParamType>(it - std::begin(kParamTypeNames));
  p.description = (*t)["description"].value_or(std::string{});
  p.min = (*t)["min"].value<double>();
  p.max = (*t)["max"].value<double>();
  if (p.min && p.max && *p.min > *p.max) return key_error(where, "min is greater than max");
  p.pattern = (*t)["pattern"].value_or(std::string{});
  if (!p.pattern.empty()) {
    if (p.pattern.size() > kMaxPatternBytes) {
      return key_error(where + ".pattern",
                       fmt::format("is longer than {} characters", kMaxPatternBytes));
    }
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(kPatternMemoryBytes);
    auto compiled = std::make_shared<const re2::RE2>(p.pattern, options);
    if (!compiled->ok()) {
      return key_error(where + ".pattern",
                       fmt::format("'{}' is not a regular expression RE2 accepts: {} (RE2 syntax: "
                                   "no backreferences or lookaround)",
                                   p.pattern, compiled->error()));
    }
    p.compiled_pattern = std::move(compiled);
  }
  auto max_length = integer_key(*t, "max_length", where, 4096, 1, 1 << 20);
  if (!max_length) return max_length.error();
  p.max_length = static_cast<std::size_t>(*max_length);
  auto choices = string_array(t->get("values"), where + ".values");
  if (!choices) return choices.error();
  p.choices = std::move(*choices);
  if (p.type == ParamType::choice && p.choices.empty()) {
    return key_error(where, "an enum needs values = [...]");
  }
  p.under = (*t)["under"].value_or(std::string{});
  if (p.type == ParamType::path && (p.under.empty() || p.under[0] != '/')) {
    return key_error(where, "a path needs under = \"/absolute/dir\"");
  }
  if (auto ok = parse_file_limits(*t, where, p); !ok) return ok.error();
  if (const toml::node* d = t->get("default")) {
    if (p.type == ParamType::file) {
      // A file on the server, given to jobs that upload none: absolute, checked at load.
      auto path = d->value_exact<std::string>();
      if (!path || path->empty() || (*path)[0] != '/') {
        return key_error(where + ".default", "a file's default must be an absolute path");
      }
      p.default_value = ParamValue{*path};
      return p;
    }
    auto v = typed_default(*d, p, where);
    if (!v) return v.error();
    // The default must pass the checks a client's value passes: a job must never run with a
    // value the catalog itself forbids (min/max, pattern, values, under).
    if (auto ok = check_value(p, as_input(*v), {}); !ok) {
      return key_error(where + ".default", ok.error().message);
    }
    p.default_value = std::move(*v);
  }
  return p;
}

Result<WorkerDef> parse_worker(const toml::table& t, std::string_view where,
                               const CatalogDirs& dirs) {
  if (auto ok = check_keys(
          t, where,
          {"argv", "keep_alive_s", "max_workers", "setup_timeout_s", "requeue_on_restart"});
      !ok) {
    return ok.error();
  }
  WorkerDef w;
  auto argv = string_array(t.get("argv"), fmt::format("{}.argv", where));
  if (!argv) return argv.error();
  if (argv->empty()) return key_error(where, "argv must be a non-empty array of strings");
  for (std::string& a : *argv) {
    a = dirs.fill(std::move(a));
    if (a.find('{') != std::string::npos) {
      return key_error(
          fmt::format("{}.argv", where),
          "a worker serves many runs: its argv takes no placeholders but {bin_dir} and "
          "{catalog_dir} "
          "(parameters arrive with each run)");
    }
  }
  w.argv = std::move(*argv);
  auto keep = integer_key(t, "keep_alive_s", where, 300, -1, kMaxTimeoutS);
  if (!keep) return keep.error();
  w.keep_alive_s = *keep;
  auto max = integer_key(t, "max_workers", where, 1, 1, 64);
  if (!max) return max.error();
  w.max_workers = static_cast<int>(*max);
  auto setup = integer_key(t, "setup_timeout_s", where, 600, 1, kMaxTimeoutS);
  if (!setup) return setup.error();
  w.setup_timeout_s = *setup;
  if (const toml::node* requeue = t.get("requeue_on_restart")) {
    if (!requeue->is_boolean()) {
      return key_error(fmt::format("{}.requeue_on_restart", where), "must be true or false");
    }
    w.requeue_on_restart = *requeue->value<bool>();
  }
  return w;
}

Result<TaskDef> parse_task(std::string_view name, const toml::table& t, const CatalogDirs& dirs) {
  std::string where = fmt::format("tasks.{}", name);
  if (auto ok = check_keys(t, where,
                           {"description", "argv", "cwd", "env_allow", "env", "timeout_s", "params",
                            "vram", "learn", "worker", "preemptible"});
      !ok) {
    return ok.error();
  }
  TaskDef task;
  task.name = std::string(name);
  task.description = t["description"].value_or(std::string{});
  if (const toml::node* worker = t.get("worker")) {
    if (!worker->is_table()) return key_error(where + ".worker", "must be a table");
    auto w = parse_worker(*worker->as_table(), where + ".worker", dirs);
    if (!w) return w.error();
    task.worker = std::move(*w);
  }
  auto argv = string_array(t.get("argv"), where + ".argv");
  if (!argv) return argv.error();
  // A worker task's jobs run on its workers: the worker's argv is what they show.
  if (argv->empty() && task.worker) *argv = task.worker->argv;
  if (argv->empty()) return key_error(where, "argv must be a non-empty array of strings");
  for (std::string& a : *argv)
    a = dirs.fill(std::move(a));
  task.argv = std::move(*argv);
  task.cwd = dirs.fill(t["cwd"].value_or(std::string{}));
  auto allow = string_array(t.get("env_allow"), where + ".env_allow");
  if (!allow) return allow.error();
  task.env_allow = std::move(*allow);
  if (const toml::table* env = t["env"].as_table()) {
    for (auto&& [k, v] : *env) {
      auto s = v.value_exact<std::string>();
      if (!s) return key_error(where + ".env." + std::string(k.str()), "must be a string");
      task.env.emplace_back(std::string(k.str()), *s);
    }
  }
  if (const toml::node* p = t.get("preemptible")) {
    if (!p->is_boolean()) return key_error(where + ".preemptible", "must be true or false");
    task.preemptible = *p->value<bool>();
  }
  if (const toml::node* learn = t.get("learn")) {
    if (!learn->is_boolean()) return key_error(where + ".learn", "must be true or false");
    task.learn = *learn->value<bool>();
  }
  auto timeout = integer_key(t, "timeout_s", where, 0, 0, kMaxTimeoutS);
  if (!timeout) return timeout.error();
  task.timeout_s = *timeout;
  if (const toml::table* params = t["params"].as_table()) {
    for (auto&& [k, v] : *params) {
      auto p = parse_param(k.str(), v, name);
      if (!p) return p.error();
      task.params.push_back(std::move(*p));
    }
  }
  for (const std::string& a : task.argv) {
    if (auto ok = check_placeholders(a, task.params, where + ".argv"); !ok) return ok.error();
  }
  if (auto ok = check_placeholders(task.cwd, task.params, where + ".cwd"); !ok) return ok.error();

  std::vector<std::string> numeric;
  for (const ParamDef& p : task.params) {
    if (p.type == ParamType::integer || p.type == ParamType::number) numeric.push_back(p.name);
  }
  const toml::table* vram = t["vram"].as_table();
  if (vram == nullptr) return key_error(where, "needs a [vram] table (base_mb at least)");
  if (auto ok = check_keys(*vram, where + ".vram", {"base_mb", "per_unit_mb", "unit"}); !ok) {
    return ok.error();
  }
  auto rule = VramRule::make((*vram)["base_mb"].value_or(0.0), (*vram)["per_unit_mb"].value_or(0.0),
                             (*vram)["unit"].value_or(std::string{}), numeric);
  if (!rule) return key_error(where, rule.error().message);
  task.vram = std::move(*rule);
  return task;
}

std::string_view type_name(const ParamInput& v) {
  constexpr std::string_view names[] = {"integer", "number", "string", "boolean"};
  return names[v.index()];
}

// Whether `path` is `dir` itself or outside it, lexically (both normalised).
bool outside(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto rel = path.lexically_relative(dir);
  return rel.empty() || rel == "." || *rel.begin() == "..";
}

boost::system::result<ParamValue, ParamError> check_value(const ParamDef& p, const ParamInput& in,
                                                          const PathResolver& resolve) {
  std::string field = "params." + p.name;
  auto fail = [&](std::string msg) { return ParamError{field, std::move(msg)}; };
  auto check_range = [&](double v) -> boost::system::result<void, ParamError> {
    if (p.min && v < *p.min) return fail(fmt::format("must be >= {}", *p.min));
    if (p.max && v > *p.max) return fail(fmt::format("must be <= {}", *p.max));
    return {};
  };
  switch (p.type) {
    case ParamType::integer: {
      std::int64_t i = 0;
      if (const auto* n = std::get_if<std::int64_t>(&in)) {
        i = *n;
      } else if (const auto* d = std::get_if<double>(&in);
                 d != nullptr && std::trunc(*d) == *d && std::abs(*d) < 9.0e15) {
        i = static_cast<std::int64_t>(*d);  // an integral number (2.0) is an integer
      } else {
        return fail(fmt::format("must be an integer, got {}", type_name(in)));
      }
      if (auto r = check_range(static_cast<double>(i)); !r) return r.error();
      return ParamValue{i};
    }
    case ParamType::number: {
      double d = 0;
      if (const auto* i = std::get_if<std::int64_t>(&in)) {
        d = static_cast<double>(*i);
      } else if (const auto* f = std::get_if<double>(&in)) {
        d = *f;
      } else {
        return fail(fmt::format("must be a number, got {}", type_name(in)));
      }
      if (!std::isfinite(d)) return fail("must be finite");
      if (auto r = check_range(d); !r) return r.error();
      return ParamValue{d};
    }
    default:
      break;
  }
  if (p.type == ParamType::file) {
    return fail(
        fmt::format("is a file: upload it with the job (a multipart/form-data part named "
                    "'{}', or a data: URL)",
                    p.name));
  }
  const auto* s = std::get_if<std::string>(&in);
  if (s == nullptr) return fail(fmt::format("must be a string, got {}", type_name(in)));
  if (s->size() > p.max_length) return fail(fmt::format("is longer than {} bytes", p.max_length));
  if (s->find('\0') != std::string::npos) return fail("must not contain NUL");
  if (p.type == ParamType::choice) {
    if (std::ranges::find(p.choices, *s) == p.choices.end()) {
      return fail(fmt::format("must be one of: {}", fmt::join(p.choices, ", ")));
    }
  } else if (p.type == ParamType::path) {
    namespace fs = std::filesystem;
    fs::path under = fs::path(p.under).lexically_normal();
    fs::path full = (under / *s).lexically_normal();  // an absolute *s replaces `under`
    if (outside(full, under)) return fail(fmt::format("must be a path inside {}", p.under));
    if (!resolve) return ParamValue{full.string()};
    auto real_under = resolve(under.string());
    auto real = resolve(full.string());
    if (!real_under || !real) {
      return fail(fmt::format("cannot be resolved: {}",
                              (!real ? real.error() : real_under.error()).message));
    }
    if (outside(fs::path(*real), fs::path(*real_under))) {
      return fail(
          fmt::format("must be a path inside {}: it leads outside through a symlink", p.under));
    }
    return ParamValue{*real};
  } else if (p.compiled_pattern && !re2::RE2::FullMatch(*s, *p.compiled_pattern)) {
    return fail(fmt::format("must match the pattern {}", p.pattern));
  }
  return ParamValue{*s};
}

}  // namespace

std::string_view to_string(ParamType t) {
  return kParamTypeNames[static_cast<int>(t)];
}

std::string format_param(const ParamValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  return std::get<std::string>(v);
}

Result<TaskCatalog> TaskCatalog::parse(std::string_view toml_text, std::string_view bin_dir,
                                       std::string_view catalog_dir) {
  CatalogDirs dirs{.bin_dir = bin_dir, .catalog_dir = catalog_dir};
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return Error{fmt::format("task catalog: line {}: {}", e.source().begin.line, e.description())};
  }
  if (auto ok = check_keys(root, "top level", {"tasks"}); !ok) return ok.error();
  TaskCatalog catalog;
  if (root.contains("tasks") && !root["tasks"].is_table()) {
    return Error{"task catalog: 'tasks' must be a table of [tasks.NAME] sections"};
  }
  if (const toml::table* tasks = root["tasks"].as_table()) {
    for (auto&& [name, node] : *tasks) {
      const toml::table* t = node.as_table();
      if (t == nullptr) return key_error(fmt::format("tasks.{}", name.str()), "must be a table");
      auto task = parse_task(name.str(), *t, dirs);
      if (!task) return task.error();
      catalog.tasks_.push_back(std::move(*task));
    }
  }
  std::ranges::sort(catalog.tasks_, {}, &TaskDef::name);
  return catalog;
}

RuleRange reservation_range(const TaskDef& task) {
  // Candidate values per parameter the rule reads: both ends of its range (its default where an
  // end is open) and 0 when the range spans it; the least over every combination.
  std::vector<std::pair<std::string, std::vector<double>>> axes;
  std::map<std::string, double, std::less<>> defaults;
  bool all_defaults = true;
  for (const VramRule::Factor& f : task.vram.factors()) {
    if (f.param.empty() || std::ranges::any_of(axes, [&](auto& a) { return a.first == f.param; })) {
      continue;
    }
    auto def = std::ranges::find(task.params, f.param, &ParamDef::name);
    if (def == task.params.end()) continue;
    std::optional<double> d;
    if (def->default_value) {
      d = std::visit(
          [](const auto& v) -> std::optional<double> {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>) {
              return std::nullopt;
            } else {
              return static_cast<double>(v);
            }
          },
          *def->default_value);
    }
    if (d) {
      defaults[f.param] = *d;
    } else {
      all_defaults = false;
    }
    std::vector<double> values;
    double lo = def->min.value_or(d.value_or(0));
    double hi = def->max.value_or(d.value_or(lo));
    values.push_back(lo);
    values.push_back(hi);
    if (lo < 0 && hi > 0) values.push_back(0);
    axes.emplace_back(f.param, std::move(values));
  }
  RuleRange out;
  std::vector<std::size_t> at(axes.size(), 0);
  while (true) {
    std::map<std::string, double, std::less<>> point;
    for (std::size_t i = 0; i < axes.size(); ++i)
      point[axes[i].first] = axes[i].second[at[i]];
    if (auto mb = task.vram.evaluate(point); mb) {
      out.least_mb = out.least_mb ? std::min(*out.least_mb, *mb) : *mb;
    }
    std::size_t i = 0;
    while (i < axes.size() && ++at[i] == axes[i].second.size())
      at[i++] = 0;
    if (i == axes.size()) break;
  }
  if (all_defaults) {
    if (auto mb = task.vram.evaluate(defaults); mb) out.default_mb = *mb;
  }
  return out;
}

const TaskDef* TaskCatalog::find(std::string_view name) const {
  auto it = std::ranges::lower_bound(tasks_, name, {}, &TaskDef::name);
  return it != tasks_.end() && it->name == name ? &*it : nullptr;
}

boost::system::result<ResolvedTask, ParamError> resolve_task(
    const TaskDef& task, const std::vector<std::pair<std::string, ParamInput>>& given,
    std::string_view job_dir, std::int64_t job_id, const PathResolver& resolve,
    const std::map<std::string, std::string, std::less<>>& files) {
  ResolvedTask out;
  std::set<std::string, std::less<>> seen;
  for (const auto& [name, path] : files) {
    auto def = std::ranges::find(task.params, name, &ParamDef::name);
    if (def == task.params.end() || def->type != ParamType::file) {
      return ParamError{"params." + name,
                        def == task.params.end()
                            ? fmt::format("task '{}' has no parameter '{}'", task.name, name)
                            : fmt::format("is not a file parameter of task '{}'", task.name)};
    }
    seen.insert(name);
    out.params.emplace(name, ParamValue{path});
  }
  for (const auto& [name, value] : given) {
    auto def = std::ranges::find(task.params, name, &ParamDef::name);
    if (def == task.params.end()) {
      return ParamError{"params." + name,
                        fmt::format("task '{}' has no parameter '{}'", task.name, name)};
    }
    if (!seen.insert(name).second) return ParamError{"params." + name, "given twice"};
    auto v = check_value(*def, value, resolve);
    if (!v) return v.error();
    out.params.emplace(name, std::move(*v));
  }
  for (const ParamDef& p : task.params) {
    if (out.params.contains(p.name)) continue;
    if (!p.default_value) {
      return ParamError{"params." + p.name,
                        p.type == ParamType::file
                            ? fmt::format("is required: upload a file as the part '{}'", p.name)
                            : std::string("is required")};
    }
    out.params.emplace(p.name, *p.default_value);
  }

  // One pass, so that a value containing "{...}" is never expanded again.
  std::map<std::string, std::string, std::less<>> vars{{"job_dir", std::string(job_dir)},
                                                       {"job_id", std::to_string(job_id)}};
  for (const auto& [name, value] : out.params)
    vars[name] = format_param(value);
  auto fill = [&](std::string_view s) {
    std::string result;
    std::size_t pos = 0;
    while (pos < s.size()) {
      std::size_t open = s.find('{', pos);
      std::size_t close = open == std::string_view::npos ? open : s.find('}', open);
      auto var = close == std::string_view::npos ? vars.end()
                                                 : vars.find(s.substr(open + 1, close - open - 1));
      if (var == vars.end()) {  // checked at load: only literal text remains
        result += s.substr(pos, open == std::string_view::npos ? open : open + 1 - pos);
        pos = open == std::string_view::npos ? s.size() : open + 1;
        continue;
      }
      result += s.substr(pos, open - pos);
      result += var->second;
      pos = close + 1;
    }
    return result;
  };
  for (const std::string& a : task.argv)
    out.argv.push_back(fill(a));
  out.cwd = task.cwd.empty() ? std::string(job_dir) : fill(task.cwd);
  out.env = task.env;
  out.timeout_s = task.timeout_s;

  std::map<std::string, double, std::less<>> numeric;
  for (const auto& [name, value] : out.params) {
    if (const auto* i = std::get_if<std::int64_t>(&value)) numeric[name] = static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&value)) numeric[name] = *d;
  }
  auto vram = task.vram.evaluate(numeric);
  if (!vram) return ParamError{"params", vram.error().message};
  out.vram_mb = *vram;
  return out;
}

}  // namespace vramq::core
