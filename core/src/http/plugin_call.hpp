// A call into a plugin raced against a deadline (DeadlineCall) that counts as in flight for
// the plugin, so that the plugin (so its library) stays alive until the coroutine really ends.
#pragma once

#include "http/deadline_call.hpp"
#include "plugins/loaded_plugin.hpp"

#include <chrono>
#include <memory>

namespace passerelle {

template <class T>
using PluginOutcome = CallOutcome<T>;

template <class T>
class PluginCall {
 public:
  /// Starts `task` (made by `plugin`) on `executor` now; result() waits for it or the deadline.
  static std::shared_ptr<PluginCall> start(boost::asio::any_io_executor executor,
                                           std::shared_ptr<LoadedPlugin> plugin, Task<T> task,
                                           std::chrono::milliseconds timeout) {
    auto in_flight = std::make_shared<InFlight>(std::move(plugin));
    auto call = DeadlineCall<T>::start(executor, std::move(task), timeout, in_flight);
    return std::shared_ptr<PluginCall>(new PluginCall(std::move(in_flight), std::move(call)));
  }

  /// The outcome; see DeadlineCall::result(). Call once.
  Task<PluginOutcome<T>> result() { return call_->result(); }

  /// The plugin; hold it while looking at an exception it threw.
  const std::shared_ptr<LoadedPlugin>& plugin() const { return in_flight_->plugin; }

 private:
  struct InFlight {
    explicit InFlight(std::shared_ptr<LoadedPlugin> p) : plugin(std::move(p)) {
      ++plugin->in_flight;
    }
    ~InFlight() { --plugin->in_flight; }
    std::shared_ptr<LoadedPlugin> plugin;
  };

  PluginCall(std::shared_ptr<InFlight> in_flight, std::shared_ptr<DeadlineCall<T>> call)
      : in_flight_(std::move(in_flight)), call_(std::move(call)) {}

  std::shared_ptr<InFlight> in_flight_;  // first: destroyed last
  std::shared_ptr<DeadlineCall<T>> call_;
};

}  // namespace passerelle
