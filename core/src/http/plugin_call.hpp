// A call into a plugin raced against a deadline (DeadlineCall) that counts as in flight for
// the plugin, so that the plugin (so its library) stays alive until the coroutine really ends.
#pragma once

#include "http/deadline_call.hpp"
#include "plugins/loaded_plugin.hpp"

#include <chrono>
#include <memory>

#include <utility>

namespace passerelle {

/// A request counted in its plugin from the moment its route is known, so that a drain waits
/// for it through the caller's lookup and an upload's body too; released when it ends. The
/// plugin is kept alive by whoever holds the route table.
class Entered {
 public:
  Entered() = default;
  explicit Entered(LoadedPlugin* plugin) : plugin_(plugin) {}
  Entered(Entered&& other) noexcept : plugin_(std::exchange(other.plugin_, nullptr)) {}
  Entered& operator=(Entered&& other) noexcept {
    if (this != &other) {
      release();
      plugin_ = std::exchange(other.plugin_, nullptr);
    }
    return *this;
  }
  Entered(const Entered&) = delete;
  Entered& operator=(const Entered&) = delete;
  ~Entered() { release(); }
  /// The plugin counted, now the caller's to release (nothing when none); this one forgets it.
  LoadedPlugin* take() { return std::exchange(plugin_, nullptr); }

 private:
  void release() {
    if (plugin_) plugin_->leave();
    plugin_ = nullptr;
  }
  LoadedPlugin* plugin_ = nullptr;
};

/// Holds a plugin and counts a call in flight for it while it lives.
struct InFlight {
  explicit InFlight(std::shared_ptr<LoadedPlugin> p) : plugin(std::move(p)) { plugin->enter(); }
  /// Takes over the count of `counted` (the request's, from its routing), or counts anew.
  InFlight(std::shared_ptr<LoadedPlugin> p, Entered&& counted) : plugin(std::move(p)) {
    if (!counted.take()) plugin->enter();
  }
  InFlight(InFlight&& other) noexcept : plugin(std::move(other.plugin)) {}
  ~InFlight() {
    if (plugin) plugin->leave();
  }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  std::shared_ptr<LoadedPlugin> plugin;
};

/// A plugin's streamed answer (Response::stream), counted in flight for its plugin while it
/// lives: the plugin is neither stopped nor unloaded under a read.
class PluginStream final : public BodyStream {
 public:
  PluginStream(std::shared_ptr<BodyStream> inner, std::shared_ptr<LoadedPlugin> plugin)
      : held_(std::move(plugin)), inner_(std::move(inner)) {}
  Task<std::size_t> read(std::span<char> into) override { return inner_->read(into); }

 private:
  InFlight held_;                      // released after inner_ (declared first)
  std::shared_ptr<BodyStream> inner_;  // code of the plugin's library
};

template <class T>
using PluginOutcome = CallOutcome<T>;

/// Start with PluginCall<T>::start(executor, task, timeout, plugin) (`task` made by `plugin`);
/// guard().plugin is the plugin: hold the call while looking at an exception it threw.
template <class T>
using PluginCall = DeadlineCall<T, InFlight>;

}  // namespace passerelle
