#include "exec/launcher_client.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "exec/spawn.hpp"
#include "util/readable_within.hpp"
#include "util/unique_fd.hpp"

namespace vramq::exec {
namespace {

using util::readable_within;
using util::UniqueFd;

// A launcher that dies younger than this is not started again before as long has passed: a
// launcher that cannot live (a broken binary, no memory) costs one spawn a second, not one per
// job, and jobs go by the spawn path meanwhile.
constexpr std::chrono::seconds kYoungDeath{1};

std::string errno_text(int err) {
  return std::strerror(err);
}

// Through syscall(): Debian 12's glibc declares the wrappers without C linkage for C++.
int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}
void pidfd_kill(int pidfd) {
  ::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
}

}  // namespace

LauncherClient::LauncherClient(std::string binary, std::string label,
                               std::chrono::milliseconds timeout)
    : binary_(std::move(binary)), label_(std::move(label)), timeout_(timeout) {}

LauncherClient::~LauncherClient() {
  forget(false);
}

void LauncherClient::forget(bool kill) {
  if (kill && pidfd_ >= 0) pidfd_kill(pidfd_);
  if (control_ >= 0) ::close(control_);
  if (pidfd_ >= 0) ::close(pidfd_);
  control_ = -1;
  pidfd_ = -1;
  pid_ = 0;
  if (std::chrono::steady_clock::now() - started_at_ < kYoungDeath) {
    retry_at_ = std::chrono::steady_clock::now() + kYoungDeath;
  }
}

bool LauncherClient::running() {
  if (control_ >= 0) {
    // Gone since the last request (killed, crashed): noticed here, before a request is lost.
    pollfd p{.fd = control_, .events = 0, .revents = 0};
    if (::poll(&p, 1, 0) == 0) return true;
    spdlog::warn("the supervisor launcher (pid {}) has gone; starting another", pid_);
    forget(false);
  }
  if (std::chrono::steady_clock::now() < retry_at_) return false;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    spdlog::warn("cannot start the supervisor launcher: socketpair: {}", errno_text(errno));
    retry_at_ = std::chrono::steady_clock::now() + kYoungDeath;
    return false;
  }
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  // Room for the largest request whole (a message is sent whole or not at all).
  int size = static_cast<int>(2 * kMaxLaunchRequestBytes);
  ::setsockopt(ours.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(theirs.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  pid_t pid = 0;
  const int fds[] = {theirs.get()};
  int rc = spawn_detached({binary_, "--launcher", label_}, {}, fds, pid);
  if (rc != 0) {
    spdlog::warn("cannot start the supervisor launcher {}: {}", binary_, errno_text(rc));
    retry_at_ = std::chrono::steady_clock::now() + kYoungDeath;
    return false;
  }
  theirs.reset();
  // Without a pidfd a stalled launcher could not be killed safely: none is used then (closing
  // the socket ends it). The pidfd names the launcher only if it was alive when opened (the
  // kernel reaps it at once, SIGCHLD being ignored, and its PID could be reused): checked by its
  // socket, still open.
  UniqueFd pidfd(pidfd_open(pid));
  pollfd alive{.fd = ours.get(), .events = 0, .revents = 0};
  if (!pidfd.valid() || ::poll(&alive, 1, 0) != 0) {
    spdlog::warn("the supervisor launcher (pid {}) cannot be watched ({}); runs are spawned", pid,
                 pidfd.valid() ? "it has gone" : errno_text(errno));
    retry_at_ = std::chrono::steady_clock::now() + kYoungDeath;
    return false;
  }
  pidfd_ = pidfd.release();
  control_ = ours.release();
  pid_ = pid;
  started_at_ = std::chrono::steady_clock::now();
  ++counts_.starts;
  return true;
}

LauncherClient::Result LauncherClient::launch(std::span<const std::string> args,
                                              std::span<const std::string> env,
                                              std::span<const int> fds) {
  auto refuse = [this](std::string why) {
    ++counts_.not_forked;
    return Result{.outcome = Outcome::not_forked, .pid = 0, .why = std::move(why)};
  };
  std::optional<std::string> text = encode_launch_request(args, env);
  if (!text || text->size() > kMaxLaunchRequestBytes || fds.size() > kMaxLaunchFds) {
    return refuse("the request is too large for the launcher");
  }
  if (!running()) return refuse("no supervisor launcher runs");
  alignas(cmsghdr) char control_buf[CMSG_SPACE(sizeof(int) * kMaxLaunchFds)] = {};
  iovec iov{.iov_base = text->data(), .iov_len = text->size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control_buf;
  msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  ssize_t sent = -1;
  do {
    sent = ::sendmsg(control_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && (errno == EMSGSIZE || errno == ENOBUFS || errno == ENOMEM)) {
    // Not taken, for a reason of this request or of memory, not of the launcher's.
    return refuse(fmt::format("the launcher cannot take the request: {}", errno_text(errno)));
  }
  if (sent < 0) {
    // Not taken: the launcher never saw it (gone, or its socket full: stalled).
    int err = errno;
    spdlog::warn("the supervisor launcher (pid {}) takes no request ({}); starting another", pid_,
                 errno_text(err));
    forget(true);
    return refuse(fmt::format("the launcher took no request: {}", errno_text(err)));
  }
  bool ready = readable_within(control_, timeout_);
  char buf[64];
  ssize_t n = ready ? ::recv(control_, buf, sizeof buf, MSG_DONTWAIT) : -1;
  std::optional<LaunchReply> reply =
      n > 0 ? decode_launch_reply(std::string_view(buf, static_cast<std::size_t>(n)))
            : std::nullopt;
  if (!reply) {
    // It died or stalled holding the request: whether it forked is not known here.
    spdlog::warn("the supervisor launcher (pid {}) {} a request; it is killed and replaced", pid_,
                 ready ? "died holding" : "did not answer in time to");
    forget(true);
    retry_at_ = std::max(retry_at_, std::chrono::steady_clock::now() + kYoungDeath);
    ++counts_.unknown;
    return Result{.outcome = Outcome::unknown, .pid = 0, .why = "the launcher died or stalled"};
  }
  if (reply->error != 0) {
    return refuse(fmt::format("the launcher's fork failed: {}", errno_text(reply->error)));
  }
  ++counts_.forked;
  return Result{.outcome = Outcome::forked, .pid = reply->pid, .why = {}};
}

}  // namespace vramq::exec
