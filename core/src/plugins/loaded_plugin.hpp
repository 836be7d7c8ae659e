// A plugin library and the objects it made, tied together so the library is unloaded only
// after the last of them is gone.
#pragma once

#include "passerelle/plugin.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace boost::dll {
class shared_library;
}

namespace passerelle {

class PluginServices;

/// A plugin library refused; what() names the file and the reason in one line.
class PluginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LoadedPlugin {
 public:
  enum class State { loaded, running, failed, stopped };

  /// Checks and loads `path`: ELF sanity, ABI version, build fingerprint, factory. Blocking.
  static std::shared_ptr<LoadedPlugin> load(const std::string& path);
  /// A plugin of the gateway itself (a proxied service), under the name `label` (its path).
  static std::shared_ptr<LoadedPlugin> builtin(std::unique_ptr<Plugin> plugin, std::string label);

  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  Plugin& plugin() { return *plugin_; }
  const PluginInfo& info() const { return info_; }
  const std::string& path() const { return path_; }
  /// When the library was loaded, epoch seconds.
  std::int64_t loaded_at() const { return loaded_at_; }
  /// SHA-256 of the library file as it was loaded (hex).
  const std::string& sha256() const { return sha256_; }
  /// The name the loader knows the library by: its private copy's path (the copy itself is
  /// gone once mapped).
  const std::string& loaded_from() const { return loaded_from_; }

  State state() const { return state_.load(); }
  void set_state(State s) { state_.store(s); }
  const std::string& failure() const { return failure_; }
  void set_failure(std::string why) {
    failure_ = std::move(why);
    state_.store(State::failed);
  }

  /// Requests (and widget calls, announcements) being served by this plugin right now: enter()
  /// and leave() count them.
  std::atomic<int> in_flight{0};
  void enter() { in_flight.fetch_add(1, std::memory_order_relaxed); }
  /// enter(), unless the plugin is closed (being retired): then false, and nothing counted.
  bool try_enter() {
    in_flight.fetch_add(1, std::memory_order_seq_cst);
    if (!closed_.load(std::memory_order_seq_cst)) return true;
    leave();
    return false;
  }
  /// No request enters from now on (try_enter() is false); those in flight finish.
  void close() { closed_.store(true, std::memory_order_seq_cst); }
  void leave() {
    if (in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) drained();
  }
  /// Calls `then` once nothing is in flight: at once (on this thread) when nothing is, else on
  /// the thread of the last leave(). One waiter at a time; a new one replaces the previous, and
  /// an empty one forgets it.
  void when_drained(std::function<void()> then);
  /// Beyond this many in flight, requests and widgets are refused (config max_concurrent).
  int max_concurrent = 0;
  /// Whether `max_concurrent` is reached: a new request is refused (503 with Retry-After).
  bool busy() const {
    return max_concurrent > 0 && in_flight.load(std::memory_order_relaxed) >= max_concurrent;
  }

  // Filled in when the host starts the plugin; they hold code of the library.
  std::unique_ptr<PluginServices> services;
  std::vector<Route> routes;

 private:
  LoadedPlugin() = default;
  void drained();

  std::atomic<bool> closed_{false};
  std::mutex drain_mutex_;
  std::function<void()> on_drained_;
  std::string path_;
  std::string sha256_;
  std::string loaded_from_;
  std::int64_t loaded_at_ = 0;
  PluginInfo info_;
  std::atomic<State> state_{State::loaded};
  std::string failure_;
  // Destroyed after everything above that may point into the library (see ~LoadedPlugin).
  std::unique_ptr<boost::dll::shared_library> library_;
  std::unique_ptr<Plugin> plugin_;
};

/// The state as the API says it: starting, running, failed or stopped.
const char* state_name(LoadedPlugin::State state);

}  // namespace passerelle
