// vramq-fake-model: behaves like a model run for the demo catalog and the tests. It "holds"
// simulated VRAM for a while (reporting it through $VRAMQ_SIM_VRAM_FILE, as a real run would
// be seen through NVML), writes progress to stderr, optionally grows past its reservation,
// starts helper processes in its process group, and ends with a result on stdout and in
// OUT_DIR/result.json, or with the exit code it was told to fail with, or like a PyTorch run out
// of GPU memory (--oom-below-mb N: when reserved less than N MiB). With --nvml-dir it also shows
// itself to the fake NVML driver. With --worker it is a warm worker instead
// (fake_model_worker.cpp).
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fake_model.hpp"

namespace {

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void write_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  std::rename(tmp.c_str(), path.c_str());  // atomic: the reader never sees a half-written line
}

}  // namespace

namespace fake_model {

std::string nvml_dir;

void report_vram(long long mb) {
  if (!nvml_dir.empty()) {
    const char* gpu = std::getenv("CUDA_VISIBLE_DEVICES");
    write_atomically(nvml_dir + "/procs/" + std::to_string(getpid()),
                     std::string(gpu != nullptr ? gpu : "none") + " " + std::to_string(mb) + "\n");
  }
  const char* path = std::getenv("VRAMQ_SIM_VRAM_FILE");
  if (path == nullptr || *path == '\0') return;
  write_atomically(path, std::to_string(mb) + "\n");
}

}  // namespace fake_model

namespace {

using fake_model::nvml_dir;
using fake_model::report_vram;

int usage() {
  std::fprintf(stderr,
               "usage: vramq-fake-model [--seconds S] [--vram-mb N|reservation] [--grow-to-mb N] "
               "[--exit-code C] [--output TEXT] [--children K] [--out-dir DIR] [--nvml-dir DIR] "
               "[--oom-below-mb N] [--ignore-sigterm 0|1] [--leave-children 0|1]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--worker") return worker_main(argc, argv);
  double seconds = 1;
  long long vram_mb = 0;
  long long grow_to_mb = 0;
  int exit_code = 0;
  int children = 0;
  std::string output = "done";
  std::string out_dir;
  // End like a PyTorch run out of GPU memory when reserved less than this ($VRAMQ_VRAM_MB).
  long long oom_below_mb = 0;
  // Misbehave as real runs do: ignore SIGTERM (only SIGKILL ends it), and exit leaving its
  // helpers running in its process group (nobody reaps them but the supervisor).
  bool ignore_sigterm = false;
  bool leave_children = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage();
    std::string value = argv[++i];
    if (arg == "--seconds")
      seconds = std::atof(value.c_str());
    else if (arg == "--vram-mb" && value == "reservation")  // use what it is given
      vram_mb = std::atoll(std::getenv("VRAMQ_VRAM_MB") ? std::getenv("VRAMQ_VRAM_MB") : "0");
    else if (arg == "--vram-mb")
      vram_mb = std::atoll(value.c_str());
    else if (arg == "--grow-to-mb")
      grow_to_mb = std::atoll(value.c_str());
    else if (arg == "--exit-code")
      exit_code = std::atoi(value.c_str());
    else if (arg == "--output")
      output = value;
    else if (arg == "--children")
      children = std::atoi(value.c_str());
    else if (arg == "--out-dir")
      out_dir = value;
    else if (arg == "--nvml-dir")
      nvml_dir = value;
    else if (arg == "--oom-below-mb")
      oom_below_mb = std::atoll(value.c_str());
    else if (arg == "--ignore-sigterm")
      ignore_sigterm = value == "1";
    else if (arg == "--leave-children")
      leave_children = value == "1";
    else
      return usage();
  }

  if (ignore_sigterm) ::signal(SIGTERM, SIG_IGN);  // helpers started below inherit it too
  long long started = now_ms();
  std::vector<pid_t> helpers;
  for (int c = 0; c < children; ++c) {
    pid_t pid = fork();
    if (pid == 0) {
      // A helper (a data loader, say) that would live on if nobody ended the group.
      execl("/bin/sleep", "sleep", "3600", static_cast<char*>(nullptr));
      _exit(127);
    }
    if (pid > 0) helpers.push_back(pid);
  }
  if (!out_dir.empty() && !helpers.empty()) {
    std::ofstream pids(out_dir + "/children.pid");
    for (pid_t p : helpers)
      pids << p << "\n";
  }

  report_vram(vram_mb);
  const int steps = std::max(1, static_cast<int>(seconds * 10));
  for (int step = 1; step <= steps; ++step) {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds / steps));
    if (grow_to_mb > vram_mb) report_vram(vram_mb + (grow_to_mb - vram_mb) * step / steps);
    if (step % 5 == 0 || step == steps) {
      std::fprintf(stderr, "progress %d%%\n", step * 100 / steps);
      std::fflush(stderr);
    }
  }
  long long finished = now_ms();
  for (pid_t p : helpers) {
    if (leave_children) break;
    kill(p, SIGTERM);
    waitpid(p, nullptr, 0);
  }
  const char* reserved = std::getenv("VRAMQ_VRAM_MB");
  if (oom_below_mb > 0 && (reserved == nullptr || std::atoll(reserved) < oom_below_mb)) {
    std::fprintf(stderr,
                 "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 "
                 "has a total capacity of 23.65 GiB of which 1.02 GiB is free.\n");
    return 1;
  }

  char result[1024];
  std::snprintf(
      result, sizeof result,
      "{\"output\": \"%s\", \"vram_mb\": %lld, \"started_ms\": %lld, \"finished_ms\": %lld, "
      "\"job_id\": \"%s\"}",
      output.c_str(), std::max(vram_mb, grow_to_mb), started, finished,
      std::getenv("VRAMQ_JOB_ID") ? std::getenv("VRAMQ_JOB_ID") : "");
  if (!out_dir.empty()) {
    std::ofstream(out_dir + "/result.json") << result << "\n";
  }
  std::printf("%s\n", result);
  if (exit_code != 0)
    std::fprintf(stderr, "fake-model: failing with exit code %d as asked\n", exit_code);
  return exit_code;
}
