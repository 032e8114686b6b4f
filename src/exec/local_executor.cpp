#include "exec/local_executor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstring>

#include "exec/program_path.hpp"
#include "exec/spawn.hpp"
#include "exec/supervisor_protocol.hpp"
#include "exec/supervisor_seam.hpp"
#include "util/proc_stat.hpp"
#include "util/readable_within.hpp"
#include "util/unique_fd.hpp"
#include "util/untrusted_files.hpp"

namespace vramq::exec {
using util::kill_group_if_same;
using util::process_start_ticks;
using util::read_range;
using util::UniqueFd;
namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

struct LocalExecutor::Run {
  int attempt = 1;
  stream::socket socket;
  std::string buffer;
  ExitHandler on_exit;
  SupervisorRecord last;  // the newest record it sent
  // Stderr switches asked of a warm worker's supervisor, each done once the record counts it.
  std::int64_t switches_asked = 0;
  std::map<std::int64_t, std::function<void()>> switched;  // by the count that answers it
};

namespace {

// More than any record (they are padded to 1 KiB; a long spawn error adds to that).
constexpr std::size_t kRecordRead = 64 << 10;

std::vector<int> parse_gpus(std::string_view text) {
  std::vector<int> out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view one = text.substr(0, comma);
    int g = 0;
    auto [end, ec] = std::from_chars(one.data(), one.data() + one.size(), g);
    if (ec == std::errc{} && end == one.data() + one.size()) out.push_back(g);
    text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
  }
  return out;
}

ExitStatus status_of(const SupervisorRecord& r, std::int64_t log_limit_bytes) {
  return ExitStatus{.exit_code = r.exit_code,
                    .signal = r.signal,
                    .orphaned = r.orphaned,
                    .spawn_error = r.spawn_error,
                    .spawn_errno = r.spawn_errno,
                    .lost = {},
                    .log_limit = r.log_limit,
                    .log_limit_bytes = r.log_limit.empty() ? 0 : log_limit_bytes};
}

// What a supervisor that vanished without a record leaves: its job's group (the job died with
// it, PR_SET_PDEATHSIG; anything it left in its group is killed here, if the PID is still the
// job's), and an end that says so.
ExitStatus lost_run(const SupervisorRecord& last) {
  if (last.pid > 0) kill_group_if_same(static_cast<pid_t>(last.pid), last.pid_start_ticks);
  return ExitStatus{.lost = "its supervisor ended without recording the job's exit"};
}

}  // namespace

LocalExecutor::LocalExecutor(asio::any_io_executor loop, LocalExecutorOptions options)
    : loop_(std::move(loop)),
      options_(std::move(options)),
      launcher_(options_.supervisor, options_.run_dir) {
  ::mkdir(options_.run_dir.c_str(), 0700);
}

LocalExecutor::~LocalExecutor() {
  // Closing the connections tells the supervisors to start their grace.
  for (auto& [job, run] : runs_) {
    boost::system::error_code ignored;
    run->socket.close(ignored);
  }
  for (auto& [job, fd] : found_)
    ::close(fd);
}

std::string LocalExecutor::slot_path(int slot) const {
  return options_.run_dir + "/" + slot_file(slot);
}

std::optional<std::pair<int, int>> LocalExecutor::take_slot() {
  // A released slot may still be held for a moment by its exiting supervisor: try the others.
  std::vector<int> busy;
  std::optional<std::pair<int, int>> out;
  while (!out) {
    int slot = 0;
    if (!free_slots_.empty()) {
      slot = free_slots_.back();
      free_slots_.pop_back();
    } else if (slots_ < 1'000'000) {
      slot = slots_++;
    } else {
      break;
    }
    UniqueFd fd(::open(slot_path(slot).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      busy.push_back(slot);
      break;  // the run directory is unusable: the caller reports it
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      busy.push_back(slot);
      continue;
    }
    out = std::pair{slot, fd.release()};
  }
  free_slots_.insert(free_slots_.begin(), busy.begin(), busy.end());
  return out;
}

namespace {

// Failures the supervisor would only report later, told at once where they are certain: the
// program's absolute path, or why the run cannot start.
boost::system::result<std::string, SpawnError> runnable_program(const LaunchSpec& spec) {
  if (spec.argv.empty()) return SpawnError{EINVAL, "empty argv"};
  std::optional<std::string> program = find_program(spec.argv[0], path_of(spec.env), spec.cwd);
  if (!program) {
    return SpawnError{ENOENT, fmt::format("cannot run {}: not found on the job's PATH ({}); give "
                                          "the program's absolute path",
                                          spec.argv[0], path_of(spec.env))};
  }
  if (program->front() != '/') program = spec.cwd + "/" + *program;
  if (!is_executable_file(*program)) {
    return SpawnError{
        ENOENT, fmt::format("cannot run {}: {} is not an executable file", spec.argv[0], *program)};
  }
  struct stat st {};
  if (!spec.cwd.empty() && (::stat(spec.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
    return SpawnError{ENOENT, fmt::format("cannot run {}: the working directory {} does not exist",
                                          spec.argv[0], spec.cwd)};
  }
  return *program;
}

// The supervisor's options for a run; descriptors 3, 4 and 5 are the attach socket, the run
// file and a worker's stdio (spawn_supervisor puts them there).
SupervisorOptions supervisor_options(const LaunchSpec& spec, const std::string& program,
                                     const LocalExecutorOptions& o) {
  std::string gpus;
  for (int g : spec.gpus)
    gpus += (gpus.empty() ? "" : ",") + std::to_string(g);
  std::vector<std::int64_t> groups;
  if (spec.user) groups.assign(spec.user->groups.begin(), spec.user->groups.end());
  return {.run_fd = 4,
          .job = spec.job,
          .attempt = spec.attempt,
          .started_at_ms = spec.started_at_ms,
          .gpus = gpus,
          // A warm worker has nobody to serve without its server.
          .orphan_grace_ms = spec.worker_stdio ? 0 : o.orphan_grace_ms,
          .kill_grace_ms = o.kill_grace_ms,
          .program = program,
          .argv = spec.argv,
          .cwd = spec.cwd,
          .stdout_path = spec.stdout_path,
          .stderr_path = spec.stderr_path,
          .attach_fd = 3,
          .log_limit_bytes = o.log_limit_bytes,
          .log_mode = o.log_mode,
          .job_umask = o.job_umask,
          .stdio_fd = spec.worker_stdio ? 5 : -1,
          .uid = spec.user ? std::int64_t{spec.user->uid} : -1,
          .gid = spec.user ? std::int64_t{spec.user->gid} : -1,
          .groups = std::move(groups)};
}

}  // namespace

// The supervisor's ends of a run's sockets, and the server's.
struct LocalExecutor::Sockets {
  UniqueFd attach;  // the server's end of the attach socket
  UniqueFd attach_theirs;
  UniqueFd stdio;  // a warm worker's stdin/stdout: the server's end
  UniqueFd stdio_theirs;
  // The supervisor's descriptors 3, 4(, 5): its attach socket, `lock` (its run file), its stdio.
  std::vector<int> theirs(int lock) const {
    std::vector<int> fds = {attach_theirs.get(), lock};
    if (stdio_theirs.valid()) fds.push_back(stdio_theirs.get());
    return fds;
  }
};

boost::system::result<LocalExecutor::Sockets, SpawnError> LocalExecutor::sockets(
    bool worker) const {
  Sockets out;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    int err = errno;
    return SpawnError{err, fmt::format("socketpair failed: {}", std::strerror(err))};
  }
  out.attach.reset(pair[0]);
  out.attach_theirs.reset(pair[1]);
  if (worker) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      int err = errno;
      return SpawnError{err, fmt::format("socketpair failed: {}", std::strerror(err))};
    }
    out.stdio.reset(pair[0]);
    out.stdio_theirs.reset(pair[1]);
  }
  return out;
}

// A launcher that died holding the request may have forked first. A forked supervisor holds the
// attach socket's other end and sends its record at once; with no supervisor, nothing holds that
// end once the server's copy is closed, and the socket reads EOF. The PID comes from the record
// the supervisor wrote to its run file before sending (0 if it is slow even to do that).
std::optional<pid_t> LocalExecutor::forked_anyway(Sockets& s, int slot, const LaunchSpec& spec) {
  s.attach_theirs.reset();
  s.stdio_theirs.reset();
  char c = 0;
  if (util::readable_within(s.attach.get(), LauncherClient::kLaunchTimeout) &&
      ::recv(s.attach.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
    return std::nullopt;  // EOF: nothing was forked
  }
  std::optional<SupervisorRecord> r = parse_record(read_range(slot_path(slot), 0, kRecordRead));
  bool ours = r && r->job == spec.job && r->attempt == spec.attempt;
  return ours ? static_cast<pid_t>(r->supervisor_pid) : 0;
}

boost::system::result<LocalExecutor::Started, SpawnError> LocalExecutor::start_supervisor(
    const LaunchSpec& spec, const std::vector<std::string>& args, int lock, int slot) {
  auto made = sockets(spec.worker_stdio);
  if (!made) return made.error();
  Sockets s = std::move(*made);
  std::vector<int> fds = s.theirs(lock);
  LauncherClient::Result via =
      launcher_.launch(std::span<const std::string>(args).subspan(1), spec.env, fds);
  if (via.outcome == LauncherClient::Outcome::unknown) {
    std::optional<pid_t> pid = forked_anyway(s, slot, spec);
    if (pid) {
      ++forked_unanswered_;
      return Started{.pid = *pid, .attach = std::move(s.attach), .stdio = std::move(s.stdio)};
    }
    made = sockets(spec.worker_stdio);  // the launcher took the first ones down with it
    if (!made) return made.error();
    s = std::move(*made);
    fds = s.theirs(lock);
  } else if (via.outcome == LauncherClient::Outcome::forked) {
    return Started{.pid = via.pid, .attach = std::move(s.attach), .stdio = std::move(s.stdio)};
  }
  // The spawn path: what every start was before the launcher, now its fallback.
  if (via.outcome == LauncherClient::Outcome::not_forked && launcher_.counts().starts > 0) {
    spdlog::debug("job {}: supervisor spawned, not forked: {}", spec.job, via.why);
  }
  pid_t pid = 0;
  int rc = spawn_detached(args, spec.env, fds, pid);
  if (rc != 0) {
    return SpawnError{rc, fmt::format("cannot start the job's supervisor {}: {}",
                                      options_.supervisor, std::strerror(rc))};
  }
  ++spawned_;
  return Started{.pid = pid, .attach = std::move(s.attach), .stdio = std::move(s.stdio)};
}

boost::system::result<Launched, SpawnError> LocalExecutor::start(const LaunchSpec& spec,
                                                                 ExitHandler on_exit) {
  auto program = runnable_program(spec);
  if (!program) return program.error();
  if (runs_.contains(spec.job)) return SpawnError{EEXIST, "the job runs already"};
  // The slot is locked before the start and the lock inherited by the supervisor: from this
  // moment a next server finds this run, even if this one dies before it has stored the start.
  std::optional<std::pair<int, int>> slot = take_slot();
  if (!slot) {
    int err = errno;
    return SpawnError{err, fmt::format("no run slot can be locked in {}: {}", options_.run_dir,
                                       std::strerror(err))};
  }
  UniqueFd lock(slot->second);
  std::vector<std::string> args =
      supervisor_command(options_.supervisor, supervisor_options(spec, *program, options_));
  auto started = start_supervisor(spec, args, lock.get(), slot->first);
  if (!started) {
    free_slots_.push_back(slot->first);
    return started.error();
  }
  pid_t pid = started->pid;
  Launched launched{.pid = pid,
                    .start_ticks = pid > 0 ? process_start_ticks(pid).value_or(0) : 0,
                    .stdio_fd = started->stdio.release()};
  auto run = std::make_shared<Run>(
      Run{.attempt = spec.attempt,
          .socket = stream::socket(loop_, stream(), started->attach.release()),
          .buffer = {},
          .on_exit = std::move(on_exit),
          .last = {}});
  run->last.job = spec.job;
  run->last.supervisor_pid = pid;
  run->last.supervisor_start_ticks = launched.start_ticks;
  runs_[spec.job] = std::move(run);
  slot_of_[{spec.job, spec.attempt}] = slot->first;
  read_records(spec.job);
  return launched;
}

std::vector<std::pair<std::string, std::uint64_t>> LocalExecutor::starts() const {
  return {{"launcher", launcher_.counts().forked + forked_unanswered_}, {"spawn", spawned_}};
}

void LocalExecutor::read_records(core::JobId job) {
  std::shared_ptr<Run> run = runs_.at(job);
  Run& r = *run;
  asio::async_read_until(r.socket, asio::dynamic_buffer(r.buffer, 1 << 16), "\n\n",
                         [this, job, run](const boost::system::error_code& ec, std::size_t n) {
                           if (ec == asio::error::operation_aborted) return;  // executor gone
                           auto it = runs_.find(job);
                           if (it == runs_.end() || it->second != run) return;
                           if (ec) {
                             on_disconnect(job);
                             return;
                           }
                           std::string text = it->second->buffer.substr(0, n);
                           it->second->buffer.erase(0, n);
                           on_record(job, text);
                           if (runs_.contains(job)) read_records(job);
                         });
}

void LocalExecutor::on_record(core::JobId job, std::string_view text) {
  std::optional<SupervisorRecord> r = parse_record(text);
  if (!r) return;  // not from a supervisor of ours: ignored
  Run& run = *runs_.at(job);
  run.last = *r;
  if (r->ended) {
    deliver(job, status_of(*r, options_.log_limit_bytes));
    return;
  }
  // Stderr switches the supervisor has made: their callbacks, in order (each may end the run).
  while (!run.switched.empty() && run.switched.begin()->first <= r->stderr_switches) {
    std::function<void()> done = std::move(run.switched.begin()->second);
    run.switched.erase(run.switched.begin());
    if (done) done();
    if (!runs_.contains(job)) return;
  }
}

void LocalExecutor::on_disconnect(core::JobId job) {
  Run& run = *runs_.at(job);
  // The supervisor has exited: its record says how the job ended, unless it died first.
  // (A small file on the local disk, read on the loop: this happens once per lost connection.)
  auto slot = slot_of_.find({job, run.attempt});
  std::optional<SupervisorRecord> r;
  if (slot != slot_of_.end()) r = parse_record(read_range(slot_path(slot->second), 0, kRecordRead));
  if (r && (r->job != job || r->attempt != run.attempt)) r.reset();
  if (r && r->ended) {
    deliver(job, status_of(*r, options_.log_limit_bytes));
    return;
  }
  spdlog::warn("job {}: its supervisor (pid {}) closed its connection without an end on record",
               job, run.last.supervisor_pid);
  deliver(job, lost_run(r.value_or(run.last)));
}

void LocalExecutor::deliver(core::JobId job, ExitStatus status) {
  auto it = runs_.find(job);
  if (it == runs_.end()) return;
  ExitHandler handler = std::move(it->second->on_exit);
  runs_.erase(it);  // closes the connection; the supervisor exits on its own
  handler(std::move(status));
}

void LocalExecutor::signal_group(core::JobId job, int sig) {
  auto it = runs_.find(job);
  if (it == runs_.end()) return;
  std::string line = signal_line(sig);
  // A few bytes on a local socket the supervisor drains at once: never blocks in practice, and
  // a full buffer means a supervisor that is not reading (it then dies with its job anyway).
  ::send(it->second->socket.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void LocalExecutor::redirect_stderr(core::JobId job, std::string_view path,
                                    std::function<void()> done) {
  auto it = runs_.find(job);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  run.switched.emplace(++run.switches_asked, std::move(done));
  std::string line = stderr_line(path);
  ::send(it->second->socket.native_handle(), line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

namespace {

// Whether another process (the run's supervisor) holds the slot's lock. When not, `lock` holds it
// now, until the caller lets go of it: harmless, the run is over.
bool lock_held(const std::string& path, UniqueFd& lock) {
  if (!lock.valid()) lock.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  return lock.valid() && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

// Connects to a supervisor's socket and reads the record it sends first, checking that the peer
// is the supervisor the record names (PID and start time), not whatever now has that PID.
std::optional<SupervisorRecord> attach(const std::string& name, UniqueFd& conn) {
  conn.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  std::optional<SocketAddress> a = abstract_address(name);
  if (!conn.valid() || !a ||
      ::connect(conn.get(), reinterpret_cast<const sockaddr*>(&a->addr), a->size) != 0) {
    return std::nullopt;
  }
  std::string text;
  pollfd p{.fd = conn.get(), .events = POLLIN, .revents = 0};
  char buf[4096];
  while (text.find("\n\n") == std::string::npos && ::poll(&p, 1, 500) == 1) {
    ssize_t n = ::read(conn.get(), buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t end = text.find("\n\n");
  if (end == std::string::npos) return std::nullopt;
  std::optional<SupervisorRecord> r = parse_record(text.substr(0, end + 1));
  if (!r || !peer_is_process(conn.get(), r->supervisor_pid, r->supervisor_start_ticks)) {
    return std::nullopt;
  }
  return r;
}

}  // namespace

std::vector<Survivor> LocalExecutor::survivors() {
  std::vector<Survivor> out;
  DIR* dir = ::opendir(options_.run_dir.c_str());
  if (dir == nullptr) return out;
  std::vector<int> slots;
  while (dirent* e = ::readdir(dir)) {
    if (auto slot = parse_slot_file(e->d_name)) slots.push_back(*slot);
  }
  ::closedir(dir);
  std::sort(slots.begin(), slots.end());
  slots_ = slots.empty() ? 0 : slots.back() + 1;
  std::vector<int> free;
  for (int slot = 0; slot < slots_; ++slot) {
    if (!std::binary_search(slots.begin(), slots.end(), slot)) free.push_back(slot);
  }
  for (int slot : slots) {
    std::string file = slot_path(slot);
    UniqueFd lock;
    UniqueFd conn;
    std::optional<SupervisorRecord> live;
    bool held = false;
    // A live supervisor answers at once, unless it is busy (starting, or writing its last
    // record: a sync on a loaded disk can take seconds); one that ends meanwhile frees its lock.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((held = lock_held(file, lock)) && !live && std::chrono::steady_clock::now() < deadline) {
      std::optional<SupervisorRecord> on_file = parse_record(read_range(file, 0, kRecordRead));
      if (on_file && !on_file->socket.empty()) live = attach(on_file->socket, conn);
      if (!live) ::usleep(20'000);
    }
    std::optional<SupervisorRecord> r = live;
    if (!live) r = parse_record(read_range(file, 0, kRecordRead));
    if (!r) {
      // Nothing on record: free, unless something holds it (then it stays out of use).
      if (!held) free.push_back(slot);
      continue;
    }
    Survivor s{.job = r->job,
               .attempt = r->attempt,
               .started = r->pid > 0,
               .gpus = parse_gpus(r->gpus),
               .started_at_ms = r->started_at_ms,
               .supervisor = {.pid = static_cast<pid_t>(r->supervisor_pid),
                              .start_ticks = r->supervisor_start_ticks}};
    if (live && !live->ended) {
      s.alive = true;
      found_[s.job] = conn.release();
    } else if (r->ended) {
      s.ended = status_of(*r, options_.log_limit_bytes);
    } else {
      if (held && r->supervisor_pid > 0 &&
          process_start_ticks(static_cast<pid_t>(r->supervisor_pid)) == r->supervisor_start_ticks) {
        // Alive but unreachable: it cannot be supervised, so it must not run on unseen.
        ::kill(static_cast<pid_t>(r->supervisor_pid), SIGKILL);
      }
      // No supervisor to attach to and no end on record: it died (or never got going).
      s.ended = lost_run(*r);
    }
    // Its slot stays taken until the run is released (its end stored).
    if (!slot_of_.try_emplace({s.job, s.attempt}, slot).second) free.push_back(slot);
    out.push_back(std::move(s));
  }
  free_slots_.insert(free_slots_.end(), free.rbegin(), free.rend());
  return out;
}

void LocalExecutor::adopt(const Survivor& run, ExitHandler on_exit) {
  auto found = found_.find(run.job);
  if (!run.alive || found == found_.end()) {
    ExitStatus ended = run.ended.value_or(ExitStatus{.lost = "its supervisor is gone"});
    asio::post(loop_, [handler = std::move(on_exit), ended]() mutable { handler(ended); });
    return;
  }
  auto r = std::make_shared<Run>(Run{.attempt = run.attempt,
                                     .socket = stream::socket(loop_, stream(), found->second),
                                     .buffer = {},
                                     .on_exit = std::move(on_exit),
                                     .last = {}});
  found_.erase(found);
  r->last.job = run.job;
  r->last.supervisor_pid = run.supervisor.pid;
  r->last.supervisor_start_ticks = run.supervisor.start_ticks;
  runs_[run.job] = std::move(r);
  read_records(run.job);
}

void LocalExecutor::release(core::JobId job, int attempt) {
  if (auto found = found_.find(job); found != found_.end()) {
    // A survivor nobody claims (its job ended or moved on): it must not run on unseen.
    std::string line = signal_line(SIGKILL);
    ::send(found->second, line.data(), line.size(), MSG_NOSIGNAL);
    ::close(found->second);
    found_.erase(found);
  }
  // The slot is reused by a later run (its record stays until then).
  auto slot = slot_of_.find({job, attempt});
  if (slot != slot_of_.end()) {
    free_slots_.push_back(slot->second);
    slot_of_.erase(slot);
  }
}

}  // namespace vramq::exec
