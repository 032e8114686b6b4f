#include "cli/interrupt_notice.hpp"

#include <unistd.h>

#include <ctime>

namespace vramq::cli {

InterruptNotice::InterruptNotice(std::string notice) : notice_(std::move(notice)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &previous_);
  watcher_ = std::thread([this, set] {
    timespec tick{.tv_sec = 0, .tv_nsec = 100'000'000};
    while (!stop_.load()) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        std::string line = "\n" + notice_ + "\n";
        (void)!::write(STDERR_FILENO, line.data(), line.size());
        _exit(128 + sig);
      }
    }
  });
}

InterruptNotice::~InterruptNotice() {
  stop_ = true;
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

}  // namespace vramq::cli
