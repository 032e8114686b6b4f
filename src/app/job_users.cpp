#include "app/job_users.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <filesystem>

namespace vramq::app {

namespace fs = std::filesystem;

namespace {

// `name` as a user jobs may run as; nullopt: vramq's own user (no change).
core::Result<std::optional<util::UnixUser>> job_user(const core::Config& config,
                                                     const std::string& name,
                                                     const std::string& where) {
  auto user = util::lookup_unix_user(name);
  if (!user) return core::Error{fmt::format("{}: {}", where, user.error().message)};
  if (user->uid == 0) {
    return core::Error{
        fmt::format("{} '{}': a job run as root has the server's powers; name an unprivileged user",
                    where, name)};
  }
  if (user->gid == 0 || std::ranges::find(user->groups, gid_t{0}) != user->groups.end()) {
    return core::Error{fmt::format(
        "{} '{}': it is in the group root, whose files its jobs could read; name a user outside it",
        where, name)};
  }
  if (user->uid == ::geteuid()) return std::optional<util::UnixUser>{};
  if (config.executor == "slurm") {
    return core::Error{fmt::format(
        "{} '{}': under --executor slurm jobs are submitted as vramq's user ({}); run vramq as "
        "that user or drop the setting",
        where, name, util::current_user_name())};
  }
  if (::geteuid() != 0) {
    return core::Error{fmt::format(
        "{} '{}': vramq runs as {}, not root, and cannot start jobs as another user (start it as "
        "root, or drop the setting)",
        where, name, util::current_user_name())};
  }
  return std::optional<util::UnixUser>(std::move(*user));
}

// Whether `user` may search a directory with this owner and mode.
bool may_search(const struct stat& st, const util::UnixUser& user) {
  if (st.st_uid == user.uid) return (st.st_mode & S_IXUSR) != 0;
  if (std::ranges::find(user.groups, st.st_gid) != user.groups.end()) {
    return (st.st_mode & S_IXGRP) != 0;
  }
  return (st.st_mode & S_IXOTH) != 0;
}

}  // namespace

core::Result<std::shared_ptr<const service::JobUsers>> resolve_job_users(
    const core::Config& config, const core::Owners* owners) {
  auto users = std::make_shared<service::JobUsers>();
  if (!config.run_as.empty()) {
    auto user = job_user(config, config.run_as, "--run-as");
    if (!user) return user.error();
    users->fallback = std::move(*user);
  }
  for (const core::Owner& o : owners != nullptr ? owners->owners : std::vector<core::Owner>{}) {
    if (o.run_as.empty()) continue;
    auto user = job_user(config, o.run_as, fmt::format("owners.{}.run_as", o.name));
    if (!user) return user.error();
    if (*user) users->owners.emplace(o.name, std::move(**user));
  }
  return std::shared_ptr<const service::JobUsers>(std::move(users));
}

core::Result<void> open_job_dirs(const core::Config& config, const service::JobUsers& users) {
  if (!users.any()) return {};
  fs::path data = fs::absolute(config.data_dir).lexically_normal();
  for (const fs::path& dir : {data, data / "jobs", data / "workers"}) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && (st.st_mode & 0111) != 0111) {
      ::chmod(dir.c_str(), (st.st_mode & 07777) | 0111);
    }
  }
  std::vector<const util::UnixUser*> all;
  if (users.fallback) all.push_back(&*users.fallback);
  for (const auto& [owner, user] : users.owners)
    all.push_back(&user);
  fs::path at;
  for (const fs::path& part : data / "jobs") {
    at /= part;
    struct stat st {};
    if (::stat(at.c_str(), &st) != 0) continue;  // made later, with search for others
    for (const util::UnixUser* user : all) {
      if (!may_search(st, *user)) {
        return core::Error{fmt::format(
            "jobs run as {} cannot reach their directories under {}: {} (mode {:04o}) lets them "
            "not through; put the data directory where they can (chmod o+x {}, or another "
            "--data-dir)",
            user->name, config.data_dir, at.string(), st.st_mode & 07777, at.string())};
      }
    }
  }
  return {};
}

void log_job_users(const service::JobUsers& users, const core::Owners* owners) {
  std::size_t mapped = users.owners.size();
  std::size_t all = owners != nullptr ? owners->owners.size() : 0;
  if (users.fallback) {
    spdlog::info("jobs run as {}{}", users.fallback->name,
                 mapped > 0 ? fmt::format(" ({} owners as their own run_as)", mapped) : "");
    return;
  }
  if (::geteuid() != 0) {
    spdlog::info(
        "jobs run as vramq's own user ({}); started as root with --run-as, it runs them as "
        "another",
        util::current_user_name());
    return;
  }
  // Jobs of owners without run_as, of owners no longer in the file and from before it had
  // owners run as root: however many owners are mapped, that is said.
  spdlog::warn(
      "JOBS RUN AS ROOT{}: such a job can read the store, the owners and token files and every "
      "other job's environment and files; give --run-as an unprivileged user (make install "
      "creates vramq-job)",
      mapped > 0 ? fmt::format(" unless their owner has a run_as ({} of {} have)", mapped, all)
                 : std::string());
}

}  // namespace vramq::app
