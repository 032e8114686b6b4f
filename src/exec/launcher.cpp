#include "exec/launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "exec/launch_request.hpp"
#include "exec/supervisor.hpp"

namespace vramq::exec {
namespace {

struct Received {
  std::string text;
  std::vector<int> fds;
  bool closed = false;  // the server's end is gone (or unusable): the launcher exits
};

void close_all(const std::vector<int>& fds) {
  for (int fd : fds)
    ::close(fd);
}

// `buf`: room for the largest request and one byte more (to see a longer one), allocated once and
// never cleared: every page the launcher writes after a fork is copied (the child shares it), so
// a request costs the pages it fills, not the buffer's.
Received receive(int control, std::span<char> buf) {
  Received out;
  alignas(cmsghdr) char control_buf[CMSG_SPACE(sizeof(int) * kMaxLaunchFds)];
  iovec iov{.iov_base = buf.data(), .iov_len = buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control_buf;
  msg.msg_controllen = sizeof control_buf;
  ssize_t n = -1;
  do {
    n = ::recvmsg(control, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    out.closed = true;
    return out;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      out.fds.push_back(fd);
    }
  }
  // A message cut short (MSG_TRUNC, MSG_CTRUNC) is refused whole: its descriptors are closed.
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0) {
    out.text.assign(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

void reply(int control, const LaunchReply& r) {
  std::string text = encode_launch_reply(r);
  while (::send(control, text.data(), text.size(), MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

// In the forked child: becomes the supervisor the request describes; never returns. It answers
// the server itself, once it has its own session and process group: a server that signals the
// group or the session at once must find them (the launcher answers only a fork that failed).
[[noreturn]] void become_supervisor(int control, const LaunchRequest& request,
                                    const std::vector<int>& fds) {
  // What an exec would have given it: no signal blocked, every disposition the default (the
  // launcher ignores SIGCHLD; a supervisor that inherited that could never wait for its job).
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGCHLD, SIG_DFL);
  // Its own session, as the spawn path gives it: a terminal's Ctrl-C or a signal to the
  // server's group never reaches it.
  ::setsid();
  reply(control, {.pid = ::getpid(), .error = 0});
  // The request's descriptors as 3, 4(, 5): moved above that range first, so that no dup2 can
  // overwrite another's source; then nothing else of the launcher's (its socket to the server).
  std::vector<int> high;
  high.reserve(fds.size());
  for (int fd : fds)
    high.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 64));
  for (std::size_t i = 0; i < high.size(); ++i) {
    if (high[i] < 0 || ::dup2(high[i], 3 + static_cast<int>(i)) < 0) _exit(127);
  }
  ::close_range(3 + static_cast<unsigned>(high.size()), ~0U, 0);
  ParsedOptions parsed = parse_supervisor_args(request.args);
  if (!parsed.error.empty()) {
    std::fprintf(stderr, "vramq-supervise: %s\n", parsed.error.c_str());
    _exit(2);
  }
  std::vector<char*> envp;
  envp.reserve(request.env.size() + 1);
  for (const std::string& e : request.env)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int rc = 1;
  try {
    rc = run_supervisor(parsed.options, envp.data());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vramq-supervise: %s\n", e.what());
  }
  _exit(rc);
}

}  // namespace

int run_launcher(int control) {
  ::signal(SIGCHLD, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  const std::size_t size = kMaxLaunchRequestBytes + 1;
  std::unique_ptr<char[]> buf = std::make_unique_for_overwrite<char[]>(size);
  for (;;) {
    Received r = receive(control, {buf.get(), size});
    if (r.closed) return 0;
    std::optional<LaunchRequest> request = decode_launch_request(r.text);
    if (!request || r.fds.size() < 2 || r.fds.size() > kMaxLaunchFds) {
      close_all(r.fds);
      reply(control, {.pid = 0, .error = EINVAL});
      continue;
    }
    pid_t pid = ::fork();
    if (pid == 0) become_supervisor(control, *request, r.fds);
    int err = errno;
    close_all(r.fds);  // the child has its own copies
    if (pid < 0) reply(control, {.pid = 0, .error = err != 0 ? err : EAGAIN});
  }
}

}  // namespace vramq::exec
