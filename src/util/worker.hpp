#pragma once
// A thread for blocking work (SQLite reads, GPU sampling, file reads) so that the event loop
// never stalls: async_run(work, token) runs `work()` on the worker's thread and completes with
// its result on the token's associated executor (a coroutine's own), else on `loop`. Work items run
// one at a time, in order. Thread safety: async_run may be called from the loop; `work` must touch
// no loop-owned state.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <type_traits>
#include <utility>

namespace vramq::util {

class Worker {
 public:
  explicit Worker(boost::asio::any_io_executor loop) : loop_(std::move(loop)), pool_(1) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { join(); }

  // Waits for queued work to finish; completions still go to their executors.
  void join() { pool_.join(); }
  // Whether work handed to it has not yet been posted back (its completion may still be queued
  // on its executor). Any thread.
  bool busy() const { return in_flight_.load() > 0; }

  template <class F, class Token>
  auto async_run(F work, Token&& token) {
    using R = std::invoke_result_t<F&>;
    return boost::asio::async_initiate<Token, void(R)>(
        [this](auto handler, F fn) {
          auto ex = boost::asio::get_associated_executor(handler, loop_);
          ++in_flight_;
          boost::asio::post(
              pool_, [this, fn = std::move(fn), handler = std::move(handler), ex]() mutable {
                R result = fn();
                boost::asio::post(
                    ex, [handler = std::move(handler), result = std::move(result)]() mutable {
                      std::move(handler)(std::move(result));
                    });
                --in_flight_;
              });
        },
        token, std::move(work));
  }

 private:
  boost::asio::any_io_executor loop_;
  std::atomic<int> in_flight_{0};
  boost::asio::thread_pool pool_;
};

}  // namespace vramq::util
