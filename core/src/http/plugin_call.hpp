// A call into a plugin raced against a deadline (DeadlineCall) that counts as in flight for
// the plugin, so that the plugin (so its library) stays alive until the coroutine really ends.
#pragma once

#include "http/deadline_call.hpp"
#include "plugins/loaded_plugin.hpp"

#include <chrono>
#include <memory>

namespace passerelle {

/// Holds a plugin and counts a call in flight for it while it lives.
struct InFlight {
  explicit InFlight(std::shared_ptr<LoadedPlugin> p) : plugin(std::move(p)) { plugin->enter(); }
  ~InFlight() { plugin->leave(); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  std::shared_ptr<LoadedPlugin> plugin;
};

template <class T>
using PluginOutcome = CallOutcome<T>;

/// Start with PluginCall<T>::start(executor, task, timeout, plugin) (`task` made by `plugin`);
/// guard().plugin is the plugin: hold the call while looking at an exception it threw.
template <class T>
using PluginCall = DeadlineCall<T, InFlight>;

}  // namespace passerelle
