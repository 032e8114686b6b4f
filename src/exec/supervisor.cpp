#include "exec/supervisor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "exec/job_child.hpp"
#include "exec/supervisor_protocol.hpp"
#include "util/proc_stat.hpp"

namespace vramq::exec {
using util::descendants;
using util::process_start_ticks;

namespace {

constexpr int kMaxConnections = 8;          // attached servers (one, plus stale ones being noticed)
constexpr std::size_t kRecordBytes = 1024;  // records are padded to this in the run file

std::int64_t wall_ms() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

// A log the job can reach (it may have replaced the file since its last run): opened without
// following a symlink or blocking on a FIFO, and only a regular file with no other name is
// written to (a hard link to someone else's file, made in a directory the job owns, must not be
// truncated by a supervisor that is more privileged than the job). O_TRUNC: after that check.
int open_log(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(
      path.c_str(),
      O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | (flags & ~O_TRUNC),
      mode);
  if (fd < 0) return -1;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
      ((flags & O_TRUNC) != 0 && ::ftruncate(fd, 0) != 0)) {
    ::close(fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

std::int64_t mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// One of the job's output streams: the pipe it writes to and the log file it is copied into.
struct LogPipe {
  const char* name = "";  // "stdout" or "stderr", as the record names it
  int read_fd = -1;       // -1 once the pipe is at its end
  int file_fd = -1;
  std::int64_t written = 0;
  bool capped = false;  // past the limit: what comes is read and dropped
};

class Supervisor {
 public:
  Supervisor(const SupervisorOptions& o, char** envp) : o_(o), envp_(envp) {}
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  int run();

 private:
  bool listen_socket();
  bool open_logs(int (&write_ends)[2]);  // false: the record says why
  bool spawn_job();                      // false: nothing runs (the record says why)
  void loop();
  // Copies what the pipe holds (a bounded amount per call, so that signals and servers are
  // served too); `drain`: until its end, once nothing can write to it any more.
  void copy_log(LogPipe& log, bool drain);
  void append(LogPipe& log, std::string_view data);
  void on_signal();
  void accept_server();
  void read_server(std::size_t index);
  void relay(int sig);
  // A warm worker's stderr goes to `path` from now on (what the pipe holds goes before).
  void switch_stderr(const std::string& path);
  void end_job(const siginfo_t& info);
  void save_record(bool durable);
  void send_record();
  void drop(std::size_t index);

  const SupervisorOptions& o_;
  char** envp_;
  SupervisorRecord record_;
  int signal_fd_ = -1;
  int listen_fd_ = -1;
  struct Connection {
    int fd = -1;
    std::string in;
  };
  std::vector<Connection> servers_;
  LogPipe logs_[2] = {{.name = "stdout"}, {.name = "stderr"}};
  pid_t job_ = 0;
  std::int64_t orphan_since_ms_ = -1;  // monotonic; -1 while a server is attached
  std::int64_t kill_at_ms_ = -1;       // monotonic; SIGKILL due (ending an orphaned job)
  bool done_ = false;
};

int Supervisor::run() {
  // Descendants that lose their parent come back here, not to init, and are ended with the job.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Its stdin/stdout/stderr are /dev/null (the server's spawn): nothing here writes to them.
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2})
    sigaddset(&mask, sig);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a server gone mid-write is noticed on the next read
  signal_fd_ = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0 || o_.run_fd < 0) return 1;

  record_.job = o_.job;
  record_.attempt = o_.attempt;
  record_.supervisor_pid = ::getpid();
  record_.supervisor_start_ticks = process_start_ticks(::getpid()).value_or(0);
  record_.gpus = o_.gpus;
  if (o_.attach_fd >= 0) {
    ::fcntl(o_.attach_fd, F_SETFL, ::fcntl(o_.attach_fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(o_.attach_fd, F_SETFD, FD_CLOEXEC);
    servers_.push_back({.fd = o_.attach_fd, .in = {}});
  } else {
    orphan_since_ms_ = mono_ms();
  }
  bool listening = listen_socket();
  if (spawn_job()) {
    save_record(false);
    send_record();
    if (!listening) {
      // No one could re-attach: ending the job now beats ending it unseen after a restart.
      relay(SIGKILL);
    }
    loop();
  }
  // The end is made durable by whoever records it: an attached server commits it to its store
  // (group-committed with every other write), so the supervisor syncs it only when no server
  // is there to. Unsynced, it still survives the server's and this process's deaths (it is in
  // the page cache); only a machine crash could lose it, and that ends the job's run anyway.
  save_record(servers_.empty());
  send_record();
  return 0;
}

bool Supervisor::listen_socket() {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (listen_fd_ < 0) return false;
  // Abstract (no file): a random name, recorded; taken already (by chance, or by someone
  // squatting it) means another draw.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::uint64_t random = 0;
    if (::getrandom(&random, sizeof random, 0) != sizeof random) return false;
    char name[32];
    int len =
        std::snprintf(name, sizeof name, "vramq-%016llx", static_cast<unsigned long long>(random));
    std::optional<SocketAddress> a =
        abstract_address(std::string_view(name, static_cast<std::size_t>(len)));
    if (a && ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a->addr), a->size) == 0) {
      record_.socket = name;
      return ::listen(listen_fd_, kMaxConnections) == 0;
    }
    if (errno != EADDRINUSE) return false;
  }
  return false;
}

Supervisor::~Supervisor() {
  for (LogPipe& log : logs_) {
    if (log.read_fd >= 0) ::close(log.read_fd);
    if (log.file_fd >= 0) ::close(log.file_fd);
  }
}

bool Supervisor::open_logs(int (&write_ends)[2]) {
  const std::string* paths[2] = {&o_.stdout_path, &o_.stderr_path};
  // A worker's stdout is the server's socket; its stderr log is appended to (switched per run).
  int flags = o_.stdio_fd >= 0 ? O_APPEND : O_TRUNC;
  for (int i = o_.stdio_fd >= 0 ? 1 : 0; i < 2; ++i) {
    LogPipe& log = logs_[i];
    log.file_fd = open_log(*paths[i], flags, static_cast<mode_t>(o_.log_mode));
    int pipe_fds[2] = {-1, -1};
    if (log.file_fd < 0 || ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      record_.ended = true;
      record_.spawn_errno = errno;
      record_.spawn_error = "cannot open " + *paths[i] + ": " + std::strerror(errno);
      record_.ended_at_ms = wall_ms();
      return false;
    }
    log.read_fd = pipe_fds[0];
    write_ends[i] = pipe_fds[1];
    ::fcntl(log.read_fd, F_SETFL, ::fcntl(log.read_fd, F_GETFL) | O_NONBLOCK);
  }
  return true;
}

bool Supervisor::spawn_job() {
  int write_ends[2] = {-1, -1};
  if (!open_logs(write_ends)) {
    for (int fd : write_ends) {
      if (fd >= 0) ::close(fd);
    }
    return false;
  }
  std::vector<char*> argv;
  argv.reserve(o_.argv.size() + 1);
  for (const std::string& a : o_.argv)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<gid_t> groups;
  groups.reserve(o_.groups.size());
  for (std::int64_t g : o_.groups)
    groups.push_back(static_cast<gid_t>(g));
  ChildStart child{.parent = ::getpid(),
                   .program = o_.program.c_str(),
                   .argv = argv.data(),
                   .envp = envp_,
                   .out_fds = {o_.stdio_fd >= 0 ? o_.stdio_fd : write_ends[0], write_ends[1]},
                   .in_fd = o_.stdio_fd,
                   .cwd = o_.cwd.empty() ? nullptr : o_.cwd.c_str(),
                   .umask = o_.job_umask,
                   .uid = o_.uid,
                   .gid = o_.gid,
                   .groups = groups.data(),
                   .group_count = groups.size()};
  pid_t pid = start_job_process(child);
  int err = pid < 0 ? errno : child.error;
  for (int fd : write_ends) {
    if (fd >= 0) ::close(fd);  // the job holds them now: the pipes end with it and its descendants
  }
  if (o_.stdio_fd >= 0) ::close(o_.stdio_fd);  // the worker's alone: its end shows when it is gone
  if (pid > 0) ::setpgid(pid, pid);            // harmless after the exec; the child did it already
  if (err != 0) {
    if (pid > 0) ::waitpid(pid, nullptr, 0);
    record_.ended = true;
    record_.spawn_errno = err;
    record_.spawn_error =
        child.user_failed
            ? "cannot run as uid " + std::to_string(o_.uid) + ": " + std::strerror(err)
            : "cannot run " + (o_.argv.empty() ? o_.program : o_.argv[0]) + ": " +
                  std::strerror(err);
    record_.ended_at_ms = wall_ms();
    return false;
  }
  job_ = pid;
  record_.pid = pid;
  record_.pid_start_ticks = process_start_ticks(pid).value_or(0);
  record_.started_at_ms = o_.started_at_ms > 0 ? o_.started_at_ms : wall_ms();
  return true;
}

void Supervisor::loop() {
  while (!done_) {
    // poll() skips negative fds: a pipe at its end stays in its place.
    std::vector<pollfd> fds{{.fd = signal_fd_, .events = POLLIN, .revents = 0},
                            {.fd = listen_fd_, .events = POLLIN, .revents = 0},
                            {.fd = logs_[0].read_fd, .events = POLLIN, .revents = 0},
                            {.fd = logs_[1].read_fd, .events = POLLIN, .revents = 0}};
    constexpr std::size_t kFirstServer = 4;
    for (const Connection& c : servers_)
      fds.push_back({.fd = c.fd, .events = POLLIN, .revents = 0});
    int timeout = -1;
    std::int64_t now = mono_ms();
    if (orphan_since_ms_ >= 0 && kill_at_ms_ < 0 && !record_.orphaned) {
      timeout =
          static_cast<int>(std::max<std::int64_t>(0, orphan_since_ms_ + o_.orphan_grace_ms - now));
    }
    if (kill_at_ms_ >= 0) timeout = static_cast<int>(std::max<std::int64_t>(0, kill_at_ms_ - now));
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "vramq-supervise: job %lld: poll: %s\n", static_cast<long long>(o_.job),
                   std::strerror(errno));
      relay(SIGKILL);  // it can no longer be watched; its end is recorded as lost
      return;
    }
    if (fds[0].revents != 0) on_signal();
    if (done_) return;
    if (fds[1].revents != 0) accept_server();
    for (std::size_t i = 0; i < 2; ++i) {
      if (fds[2 + i].revents != 0) copy_log(logs_[i], false);
    }
    // Back to front: drop() removes from servers_.
    for (std::size_t i = fds.size(); i-- > kFirstServer;) {
      if (fds[i].revents != 0 && i - kFirstServer < servers_.size()) read_server(i - kFirstServer);
    }
    now = mono_ms();
    if (servers_.empty() && orphan_since_ms_ < 0) orphan_since_ms_ = now;
    if (orphan_since_ms_ >= 0 && !record_.orphaned &&
        now >= orphan_since_ms_ + o_.orphan_grace_ms) {
      // No server for the whole grace: the job must not hold its GPU unseen any longer.
      record_.orphaned = true;
      relay(SIGTERM);
      kill_at_ms_ = now + o_.kill_grace_ms;
    }
    if (kill_at_ms_ >= 0 && now >= kill_at_ms_) {
      relay(SIGKILL);
      kill_at_ms_ = -1;
    }
  }
}

void Supervisor::on_signal() {
  signalfd_siginfo si{};
  while (::read(signal_fd_, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo != SIGCHLD) relay(static_cast<int>(si.ssi_signo));
  }
  // Reap whatever exited; the job's main process is left a zombie (WNOWAIT) until the rest of
  // its group is killed, so that its PID (the group's id) cannot be reused meanwhile.
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (info.si_pid == job_) {
      end_job(info);
      return;
    }
    ::waitpid(info.si_pid, nullptr, 0);
  }
}

void Supervisor::end_job(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) {
    record_.exit_code = info.si_status;
  } else {
    record_.signal = info.si_status;
  }
  // What the job leaves behind must not outlive it (it could hold VRAM unseen): its group, then
  // every descendant, again until none is left (killed parents hand their children to us).
  ::kill(-job_, SIGKILL);
  relay(SIGKILL);
  ::waitpid(job_, nullptr, 0);
  for (;;) {
    for (pid_t p : descendants())
      ::kill(p, SIGKILL);
    if (::waitpid(-1, nullptr, 0) < 0 && errno == ECHILD) break;
  }
  // Nothing is left to write to the pipes: what they hold is the end of the logs.
  for (LogPipe& log : logs_)
    copy_log(log, true);
  record_.ended = true;
  record_.ended_at_ms = wall_ms();
  done_ = true;
}

void Supervisor::copy_log(LogPipe& log, bool drain) {
  char buf[64 << 10];
  for (int round = 0; log.read_fd >= 0 && (drain || round < 16); ++round) {
    ssize_t n = ::read(log.read_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && drain) {
      // A writer outside our reach (not a descendant) still holds it: wait a little, no more.
      pollfd p{.fd = log.read_fd, .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 100) > 0) continue;
    }
    if (n < 0) return;  // EAGAIN: nothing more for now
    if (n == 0) {
      ::close(log.read_fd);
      log.read_fd = -1;
      return;
    }
    append(log, std::string_view(buf, static_cast<std::size_t>(n)));
  }
}

void Supervisor::append(LogPipe& log, std::string_view data) {
  if (log.capped) return;
  std::int64_t room = o_.log_limit_bytes > 0 ? o_.log_limit_bytes - log.written
                                             : static_cast<std::int64_t>(data.size());
  std::string_view keep =
      data.substr(0, static_cast<std::size_t>(std::min<std::int64_t>(room, std::ssize(data))));
  // A full disk drops output (the job goes on); the server sees the disk's state on its own.
  write_all(log.file_fd, keep);
  log.written += std::ssize(keep);
  if (keep.size() == data.size()) return;
  log.capped = true;
  char note[200];
  int len = std::snprintf(note, sizeof note,
                          "\n[vramq] %s.log reached its limit of %lld bytes (log_limit_bytes): the "
                          "job is stopped and further output is dropped\n",
                          log.name, static_cast<long long>(o_.log_limit_bytes));
  write_all(log.file_fd, std::string_view(note, static_cast<std::size_t>(std::max(len, 0))));
  if (!record_.log_limit.empty()) return;
  record_.log_limit = log.name;
  relay(SIGTERM);
  std::int64_t kill_at = mono_ms() + o_.kill_grace_ms;
  if (kill_at_ms_ < 0 || kill_at < kill_at_ms_) kill_at_ms_ = kill_at;
}

void Supervisor::relay(int sig) {
  if (job_ <= 0) return;
  ::kill(-job_, sig);
  for (pid_t p : descendants())
    ::kill(p, sig);
}

void Supervisor::switch_stderr(const std::string& path) {
  LogPipe& log = logs_[1];
  if (o_.stdio_fd < 0 || log.file_fd < 0) return;
  // What the pipe holds was written before the server asked (the worker gets its next run only
  // once this switch is answered): all of it goes to the old file, without waiting for more.
  // Bounded (a pipe holds 64 KiB unless the worker grew it): a worker that writes without end
  // cannot keep the supervisor from its signals and deadlines.
  char buf[64 << 10];
  for (int round = 0; round < 16;) {
    ssize_t n = ::read(log.read_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    append(log, std::string_view(buf, static_cast<std::size_t>(n)));
    ++round;
  }
  int fd = open_log(path, O_APPEND, static_cast<mode_t>(o_.log_mode));
  if (fd >= 0) {  // else the old file goes on; the server sees the disk's state on its own
    ::close(log.file_fd);
    log.file_fd = fd;
    log.written = 0;  // each run's log has its own cap
    log.capped = false;
  }
  ++record_.stderr_switches;
  send_record();
}

void Supervisor::accept_server() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    if (!peer_is_same_user(fd) || static_cast<int>(servers_.size()) >= kMaxConnections) {
      ::close(fd);
      continue;
    }
    servers_.push_back({.fd = fd, .in = {}});
    orphan_since_ms_ = -1;
    std::string text = format_record(record_) + "\n";
    write_all(fd, text);
  }
}

void Supervisor::read_server(std::size_t index) {
  char buf[512];
  ssize_t n = ::read(servers_[index].fd, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    drop(index);
    return;
  }
  std::string& in = servers_[index].in;
  in.append(buf, static_cast<std::size_t>(n));
  std::size_t nl = 0;
  while ((nl = in.find('\n')) != std::string::npos) {
    std::string_view line = std::string_view(in).substr(0, nl);
    if (std::optional<int> sig = parse_signal_line(line)) {
      relay(*sig);
    } else if (std::optional<std::string> path = parse_stderr_line(line)) {
      switch_stderr(*path);
    }
    in.erase(0, nl + 1);
  }
  if (in.size() > 4096) drop(index);  // no line is this long: not a server
}

void Supervisor::drop(std::size_t index) {
  ::close(servers_[index].fd);
  servers_.erase(servers_.begin() + static_cast<std::ptrdiff_t>(index));
}

void Supervisor::save_record(bool durable) {
  // In place: the file's inode carries the lock that says this supervisor is alive. Padded to
  // a fixed size, so that what an earlier, longer record left after `end` is overwritten with
  // blanks (a reader stops at `end`) and the file never needs truncating.
  std::string text = format_record(record_);
  if (text.size() < kRecordBytes) text.resize(kRecordBytes, '\n');
  std::string_view rest = text;
  for (off_t at = 0; !rest.empty();) {
    ssize_t n = ::pwrite(o_.run_fd, rest.data(), rest.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "vramq-supervise: job %lld: cannot write its record: %s\n",
                   static_cast<long long>(o_.job), std::strerror(errno));
      return;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
    at += n;
  }
  if (durable) ::fdatasync(o_.run_fd);
}

void Supervisor::send_record() {
  std::string text = format_record(record_) + "\n";
  for (const Connection& c : servers_)
    write_all(c.fd, text);
}

}  // namespace

int run_supervisor(const SupervisorOptions& options, char** envp) {
  Supervisor s(options, envp);
  return s.run();
}

}  // namespace vramq::exec
