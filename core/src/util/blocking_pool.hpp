// A small thread pool for CPU-heavy or blocking work (password hashing, file reads), so that
// none of it runs on an I/O thread. The caller co_awaits and resumes on its own executor.
#pragma once

#include "passerelle/task.hpp"
#include "util/job_limit.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>

namespace passerelle {

class BlockingPool {
 public:
  explicit BlockingPool(unsigned threads) : pool_(threads) {}
  ~BlockingPool() { join(); }
  /// Waits for the jobs under way; none may be started after.
  void join() { pool_.join(); }

  /// Runs `f()` on the pool. `f` is taken by value; it must not capture references to the
  /// caller's frame that could dangle (the caller waits, so references are fine in practice).
  /// The job is not tied to the caller's cancellation (a handler at its deadline): it cannot
  /// stop halfway, and Boost 1.81's co_spawn, cancelled while a job that never suspends runs,
  /// throws out of the pool thread once it ends (std::terminate). The cancelled caller gets the
  /// result and stops at its next co_await.
  template <class F>
  Task<std::invoke_result_t<F>> run(F f) {
    return boost::asio::co_spawn(pool_, job<std::invoke_result_t<F>>(std::move(f)),
                                 boost::asio::bind_cancellation_slot(
                                     boost::asio::cancellation_slot(), boost::asio::use_awaitable));
  }

  /// Like run(), but throws PoolFull at once, without queueing, when `limit` already counts
  /// its maximum of jobs waiting or running. `limit` must outlive the call.
  template <class F>
  Task<std::invoke_result_t<F>> run_limited(JobLimit& limit, F f) {
    if (!limit.try_acquire()) throw PoolFull();
    const Slot slot{&limit};
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      co_await run(std::move(f));
    } else {
      co_return co_await run(std::move(f));
    }
  }

 private:
  // Gives the slot back however the job ends (result, exception, cancellation).
  struct Slot {
    JobLimit* limit;
    ~Slot() { limit->release(); }
  };

  // A plain coroutine with by-value parameters: no capturing coroutine lambda (g++ 12 bug).
  template <class R, class F>
  static Task<R> job(F f) {
    co_return f();
  }

  boost::asio::thread_pool pool_;
};

}  // namespace passerelle
