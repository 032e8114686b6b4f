#include "app/batch_step.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "gpu/attribution.hpp"
#include "gpu/nvml_library.hpp"
#include "service/job_paths.hpp"
#include "util/proc_stat.hpp"

extern char** environ;

namespace vramq::app {
namespace {

// The job's process group, for the signal handler (async-signal-safe: a plain store and killpg).
volatile sig_atomic_t g_child_group = 0;

void forward(int sig) {
  if (g_child_group > 0) ::killpg(static_cast<pid_t>(g_child_group), sig);
}

// Written whole then renamed: the server never reads half a number.
void write_number(const std::string& path, std::int64_t value) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string text = std::to_string(value) + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), path.c_str());
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int batch_step(std::span<const std::string> argv) {
  if (argv.empty()) {
    std::fprintf(stderr, "vramq batch-step: no command after --\n");
    return 2;
  }
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execve's signature
  args.push_back(nullptr);
  std::string job_dir = env_or("VRAMQ_JOB_DIR", "");
  if (job_dir.empty()) {
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "vramq batch-step: cannot run %s: %s\n", args[0], std::strerror(errno));
    return 127;
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: all of it is the job's
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  pid_t child = 0;
  int rc = ::posix_spawnp(&child, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    std::fprintf(stderr, "vramq batch-step: cannot run %s: %s\n", args[0], std::strerror(rc));
    return 127;
  }
  g_child_group = child;
  // What Slurm sends the batch step goes to the whole job.
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCONT}) {
    struct sigaction sa {};
    sa.sa_handler = forward;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }

  std::unique_ptr<gpu::NvmlLibrary> nvml;
  if (auto opened = gpu::NvmlLibrary::open(env_or("VRAMQ_NVML_LIBRARY", "libnvidia-ml.so.1"))) {
    nvml = std::move(*opened);
  }
  auto period = std::chrono::milliseconds(std::clamp<long>(
      std::strtol(env_or("VRAMQ_MEASURE_MS", "500").c_str(), nullptr, 10), 50, 60'000));
  std::string now_file = service::measured_now_path(job_dir);
  std::string peak_file = service::measured_peak_path(job_dir);
  // Its exit wakes the wait at once (a pidfd); without one, it is seen at the next reading.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  std::int64_t peak = -1;
  std::int64_t last = -1;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child || (done < 0 && errno != EINTR)) break;
    if (nvml) {
      if (auto devices = nvml->read_devices()) {
        std::vector<int> all;
        for (const gpu::NvmlDevice& d : *devices)
          all.push_back(d.index);
        std::vector<gpu::JobProbe> probe{{.job = 1, .gpus = all, .pgid = child}};
        gpu::GpuSample s = gpu::attribute(*devices, probe, [](std::int64_t pid) {
          return util::read_proc_stat(static_cast<pid_t>(pid));
        });
        std::int64_t highest = 0;
        if (auto it = s.job_used_mb.find(1); it != s.job_used_mb.end()) {
          for (const auto& [gpu, mb] : it->second)
            highest = std::max(highest, mb);
        }
        if (highest != last) write_number(now_file, highest);
        last = highest;
        if (highest > peak) {
          peak = highest;
          write_number(peak_file, peak);
        }
      }
    }
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(period.count()));
    } else {
      std::this_thread::sleep_for(period);
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  if (WIFSIGNALED(status)) {
    // End as it ended: Slurm records the signal.
    int sig = WTERMSIG(status);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return 128 + sig;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace vramq::app
