// Runs a coroutine as its own coroutine, raced against a deadline: a hung handler costs its
// caller a timeout, nothing else, and whatever it needs (`keep_alive`) lives until it really
// ends. Core handlers use it as is; plugin calls add the plugin's in-flight count on top.
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

namespace passerelle {

template <class T>
struct CallOutcome {
  std::optional<T> value;
  std::exception_ptr error;  // thrown by the coroutine; rethrow while keep_alive is held
  bool timed_out = false;
};

template <class T>
class DeadlineCall {
 public:
  /// Starts `task` on `executor` now; result() waits for it or the deadline. `keep_alive` is
  /// released only after the coroutine ended and its outcome is gone.
  static std::shared_ptr<DeadlineCall> start(boost::asio::any_io_executor executor, Task<T> task,
                                             std::chrono::milliseconds timeout,
                                             std::shared_ptr<void> keep_alive = {}) {
    std::shared_ptr<DeadlineCall> call(new DeadlineCall(executor, std::move(keep_alive)));
    call->timer_.expires_after(timeout);
    auto done = [call](std::exception_ptr error, T value) {
      call->done_ = true;
      if (error)
        call->outcome_.error = error;
      else
        call->outcome_.value = std::move(value);
      call->timer_.cancel();
    };
    boost::asio::co_spawn(
        executor, std::move(task),
        boost::asio::bind_cancellation_slot(call->cancel_.slot(), std::move(done)));
    return call;
  }

  /// The outcome; on timeout the coroutine is asked to stop (it keeps `keep_alive` until it
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

 private:
  DeadlineCall(boost::asio::any_io_executor executor, std::shared_ptr<void> keep_alive)
      : keep_alive_(std::move(keep_alive)), timer_(executor) {}

  std::shared_ptr<void> keep_alive_;  // first: destroyed last, after the outcome
  CallOutcome<T> outcome_;
  bool done_ = false;
  boost::asio::steady_timer timer_;
  boost::asio::cancellation_signal cancel_;
};

}  // namespace passerelle
