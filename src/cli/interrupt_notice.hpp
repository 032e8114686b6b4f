#pragma once
// While a CLI command waits on a job (`submit --wait`, `wait`), Ctrl-C (or SIGTERM) must not
// leave silently: the job runs on in the server, and the person should be told so and how to
// cancel it. An InterruptNotice blocks SIGINT/SIGTERM in the calling thread (create it before any
// other thread starts) and waits for them on a thread of its own, which prints the notice and
// exits 130. Destroying it restores the signal mask.

#include <signal.h>

#include <atomic>
#include <string>
#include <thread>

namespace vramq::cli {

class InterruptNotice {
 public:
  explicit InterruptNotice(std::string notice);
  ~InterruptNotice();
  InterruptNotice(const InterruptNotice&) = delete;
  InterruptNotice& operator=(const InterruptNotice&) = delete;

 private:
  std::string notice_;
  sigset_t previous_{};
  std::atomic<bool> stop_{false};
  std::thread watcher_;
};

}  // namespace vramq::cli
