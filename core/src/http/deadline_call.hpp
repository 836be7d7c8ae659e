// Runs a coroutine as its own coroutine, raced against a deadline: a hung handler costs its
// caller a timeout, nothing else, and whatever it needs (its `Guard`) lives until it really
// ends. Core handlers use it as is; plugin calls guard the plugin's in-flight count.
#pragma once

#include "passerelle/task.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

namespace passerelle {

template <class T>
struct CallOutcome {
  std::optional<T> value;
  std::exception_ptr error;  // thrown by the coroutine; rethrow while keep_alive is held
  bool timed_out = false;
};

/// What a call without a guard holds.
struct NoGuard {};

// The guard, the outcome, the timer and the cancellation signal are one allocation (they were
// four, with PluginCall's), and a task that ends before start() returns (a handler answering
// from memory) is taken with take(), with no coroutine frame for result() nor timer armed.
template <class T, class Guard = NoGuard>
class DeadlineCall {
  struct Key {};  // make_shared needs a public constructor; only start() can name this

 public:
  /// Starts `task` on `executor` now; result() waits for it or the deadline. A `Guard` is made
  /// of `guard_args` before the task starts, and destroyed only after the coroutine ended and
  /// its outcome is gone.
  template <class... GuardArgs>
  static std::shared_ptr<DeadlineCall> start(boost::asio::any_io_executor executor, Task<T> task,
                                             std::chrono::milliseconds timeout,
                                             GuardArgs&&... guard_args) {
    auto call =
        std::make_shared<DeadlineCall>(Key{}, executor, std::forward<GuardArgs>(guard_args)...);
    call->timer_.expires_after(timeout);
    Task<void> run = record(call, std::move(task));
    // The completion holds the call too: co_spawn keeps its cancellation handler in `cancel_`
    // until that completion has run.
    auto finished = [call](std::exception_ptr) {};
    boost::asio::co_spawn(
        executor, std::move(run),
        boost::asio::bind_cancellation_slot(call->cancel_.slot(), std::move(finished)));
    return call;
  }

  template <class... GuardArgs>
  DeadlineCall(Key, boost::asio::any_io_executor executor, GuardArgs&&... guard_args)
      : guard_(std::forward<GuardArgs>(guard_args)...), timer_(executor) {}

  /// Whether the task has ended: its outcome is then there to take().
  bool done() const { return done_; }

  /// The outcome of a task that has ended (done()). Call once, instead of result().
  CallOutcome<T> take() { return std::move(outcome_); }

  /// The outcome; on timeout the coroutine is asked to stop (it keeps the guard until it
  /// does). Call once, on the executor given to start().
  Task<CallOutcome<T>> result() {
    boost::system::error_code ec;
    if (!done_)
      co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (!done_) {
      outcome_.timed_out = true;
      cancel_.emit(boost::asio::cancellation_type::all);
    }
    co_return std::move(outcome_);
  }

  /// After result() said timed_out: waits until the coroutine, asked to stop, has really ended
  /// (for a handler that reads memory its caller owns, such as a streamed request body).
  Task<void> ended() {
    while (!done_) {
      boost::system::error_code ec;
      timer_.expires_at(boost::asio::steady_timer::time_point::max());
      co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
  }

  /// What the call holds for its task.
  const Guard& guard() const { return guard_; }

 private:
  // Runs the task and keeps its outcome before it ends. co_spawn's own completion handler runs
  // only after a trip through the executor's queue (Boost 1.81 never completes inline), so a
  // task that answered at once still cost a coroutine frame for result(), a timer armed and
  // cancelled, and two more turns of the queue.
  static Task<void> record(std::shared_ptr<DeadlineCall> call, Task<T> task) {
    try {
      T value = co_await std::move(task);
      call->outcome_.value = std::move(value);
    } catch (...) {
      call->outcome_.error = std::current_exception();
    }
    call->done_ = true;
    call->timer_.cancel();
  }

  Guard guard_;  // first: destroyed last, after the outcome
  CallOutcome<T> outcome_;
  bool done_ = false;
  boost::asio::steady_timer timer_;
  boost::asio::cancellation_signal cancel_;
};

}  // namespace passerelle
