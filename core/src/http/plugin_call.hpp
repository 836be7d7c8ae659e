// Runs a coroutine of a plugin as its own coroutine, raced against a deadline: a hung plugin
// costs its caller a timeout, nothing else, and the plugin (so its library) stays alive until
// the coroutine really ends.
#pragma once

#include "plugins/loaded_plugin.hpp"

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
struct PluginOutcome {
  std::optional<T> value;
  std::exception_ptr error;  // thrown by the plugin; rethrow while the plugin is held
  bool timed_out = false;
};

template <class T>
class PluginCall : public std::enable_shared_from_this<PluginCall<T>> {
 public:
  /// Starts `task` (made by `plugin`) on `executor` now; result() waits for it or the deadline.
  static std::shared_ptr<PluginCall> start(boost::asio::any_io_executor executor,
                                           std::shared_ptr<LoadedPlugin> plugin, Task<T> task,
                                           std::chrono::milliseconds timeout) {
    std::shared_ptr<PluginCall> call(new PluginCall(executor, std::move(plugin)));
    call->timer_.expires_after(timeout);
    auto done = [call](std::exception_ptr error, T value) {
      call->done_ = true;
      if (error) call->outcome_.error = error;
      else call->outcome_.value = std::move(value);
      call->timer_.cancel();
    };
    boost::asio::co_spawn(executor, std::move(task),
                          boost::asio::bind_cancellation_slot(call->cancel_.slot(), std::move(done)));
    return call;
  }

  /// The outcome; on timeout the plugin's coroutine is asked to stop (it keeps the plugin alive
  /// until it does). Call once, on the executor given to start().
  Task<PluginOutcome<T>> result() {
    boost::system::error_code ec;
    if (!done_) co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (!done_) {
      outcome_.timed_out = true;
      cancel_.emit(boost::asio::cancellation_type::all);
    }
    co_return std::move(outcome_);
  }

  /// The plugin; hold it while looking at an exception it threw.
  const std::shared_ptr<LoadedPlugin>& plugin() const { return in_flight_.plugin; }

 private:
  struct InFlight {
    explicit InFlight(std::shared_ptr<LoadedPlugin> p) : plugin(std::move(p)) { ++plugin->in_flight; }
    ~InFlight() { --plugin->in_flight; }
    std::shared_ptr<LoadedPlugin> plugin;
  };

  PluginCall(boost::asio::any_io_executor executor, std::shared_ptr<LoadedPlugin> plugin)
      : in_flight_(std::move(plugin)), timer_(executor) {}

  InFlight in_flight_;  // first: destroyed last, after anything that came from the library
  PluginOutcome<T> outcome_;
  bool done_ = false;
  boost::asio::steady_timer timer_;
  boost::asio::cancellation_signal cancel_;
};

}  // namespace passerelle
