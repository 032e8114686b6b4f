#include "app/startup.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/embedded_catalog.hpp"
#include "core/startup_checks.hpp"
#include "exec/program_path.hpp"

namespace vramq::app {
namespace fs = std::filesystem;
namespace {

// A stable hash (FNV-1a) of a data directory's path, for its Slurm job names.
std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

core::Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return core::Error{fmt::format("cannot read {}", path)};
  std::stringstream ss;
  ss << in.rdbuf();
  return core::Result<std::string>(boost::system::in_place_value, ss.str());
}

}  // namespace

std::string bin_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(".") : exe.parent_path().string();
}

std::uint64_t raise_nofile() {
  struct rlimit lim {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  rlim_t want = std::min<rlim_t>(lim.rlim_max, core::kNofileTarget);
  if (lim.rlim_cur < want) {
    rlim_t was = lim.rlim_cur;
    lim.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) {
      spdlog::debug("open-file limit raised from {} to {}", was, want);
    } else {
      lim.rlim_cur = was;
    }
  }
  return lim.rlim_cur;
}

core::Result<HostLock> prepare_data_dir(const core::Config& config, mode_t private_bits) {
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) {
    return core::Error{
        fmt::format("cannot create the data directory {}: {}", config.data_dir, ec.message())};
  }
  if (struct stat st{}; ::stat(config.data_dir.c_str(), &st) == 0) {
    if (auto loose = core::data_dir_mode_warning(config.data_dir, st.st_mode & 07777,
                                                 config.share_data_with_group)) {
      spdlog::warn("{}", *loose);
    }
  }
  // Locked before anything in it is read or changed: a second server on it must not run
  // recovery (which kills the first one's jobs) or bind a port.
  auto lock = HostLock::acquire((fs::path(config.data_dir) / "vramq.lock").string(),
                                fmt::format("the data directory {}", config.data_dir));
  if (!lock) return lock.error();
  fs::create_directories(fs::path(config.data_dir) / "jobs", ec);
  if (ec)
    return core::Error{fmt::format("cannot create {}/jobs: {}", config.data_dir, ec.message())};
  // A store made by an older vramq (0644): its files may hold clients' env values.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string file = (fs::path(config.data_dir) / "vramq.db").string() + suffix;
    if (struct stat st{}; ::stat(file.c_str(), &st) == 0 && (st.st_mode & private_bits) != 0) {
      ::chmod(file.c_str(), st.st_mode & 07777 & ~private_bits);
    }
  }
  return lock;
}

core::Result<core::TaskCatalog> load_catalog(const core::Config& config) {
  std::string text;
  if (config.tasks_file.empty()) {
    text = std::string(demo_catalog());
  } else {
    auto read = read_file(config.tasks_file);
    if (!read) return core::Error{"--tasks: " + read.error().message};
    text = std::move(*read);
  }
  std::string catalog_dir;
  if (!config.tasks_file.empty()) {
    std::error_code ec;
    catalog_dir = std::filesystem::absolute(config.tasks_file, ec).parent_path().string();
  }
  auto catalog = core::TaskCatalog::parse(text, bin_dir(), catalog_dir);
  if (!catalog) {
    return core::Error{
        fmt::format("{}: {}", config.tasks_file.empty() ? "embedded catalog" : config.tasks_file,
                    catalog.error().message)};
  }
  const char* path = std::getenv("PATH");
  for (const core::TaskDef& task : catalog->tasks()) {
    // A program that is not there fails every run of the task (spawn_failed): say so now.
    const std::string& program = task.argv.front();
    if (program.find('{') != std::string::npos) continue;
    auto found = exec::find_program(program, path ? path : "", "");
    if (!found || (found->front() == '/' && !exec::is_executable_file(*found))) {
      spdlog::warn("tasks.{}.argv: '{}' is not an executable file{}: every run will fail to start",
                   task.name, program, found ? "" : " on PATH");
    }
  }
  return catalog;
}

core::Result<std::shared_ptr<const core::Owners>> load_owners(const core::Config& config) {
  bool owners_file = !config.owners_file.empty();
  const std::string& path = owners_file ? config.owners_file : config.token_file;
  if (path.empty()) return std::shared_ptr<const core::Owners>{};
  std::string flag = owners_file ? "--owners" : "--token-file";
  auto text = read_file(path);
  if (!text) return core::Error{fmt::format("{} {}: {}", flag, path, text.error().message)};
  core::Result<core::Owners> owners = core::Error{""};
  if (owners_file) {
    owners = core::parse_owners(*text);
  } else if (auto tokens = server::parse_tokens(*text); tokens) {
    owners = server::owners_from_tokens(*tokens);
  } else {
    owners = tokens.error();
  }
  if (!owners) return core::Error{fmt::format("{} {}: {}", flag, path, owners.error().message)};
  if (struct stat st{}; ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    spdlog::warn(
        "{} {}: readable by other users (mode {:04o}); {}: chmod 600 {}", flag, path,
        st.st_mode & 07777,
        owners_file ? "it says who may do what" : "anyone on this host could use its tokens", path);
  }
  return std::shared_ptr<const core::Owners>(std::make_shared<core::Owners>(std::move(*owners)));
}

std::string slurm_job_prefix(const std::string& data_dir) {
  return fmt::format(
      "vramq-{:08x}-",
      static_cast<std::uint32_t>(fnv1a(fs::absolute(data_dir).lexically_normal().string())));
}

}  // namespace vramq::app
