// Loads, starts and stops the plugins, and publishes their routes as one immutable table that
// is replaced atomically; each request keeps the plugin it uses alive.
#pragma once

#include "mail/smtp_mailer.hpp"

#include "config/config.hpp"
#include "http/router.hpp"
#include "metrics/registry.hpp"
#include "passerelle/async_mutex.hpp"
#include "plugins/loaded_plugin.hpp"
#include "plugins/service_registry.hpp"

#include <boost/json/array.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace passerelle {

class Store;
class IdentityTokens;
class BlockingPool;
class AttachmentStore;

struct RouteTable {
  struct Target {
    std::shared_ptr<LoadedPlugin> plugin;
    const Route* route;  // owned by plugin->routes
    std::chrono::milliseconds timeout;
  };
  Router router;
  std::vector<Target> targets;                         // indexed by router ids
  std::vector<std::shared_ptr<LoadedPlugin>> plugins;  // every plugin, running or failed
};

class PluginHost {
 public:
  /// How long a plugin's stop() may take (config server.plugin_stop_timeout) before it is
  /// left to run, holding its library.
  void set_stop_timeout(std::chrono::milliseconds timeout) { stop_timeout_ = timeout; }
  PluginHost(Store& store, HttpClient& http, MetricsRegistry& metrics,
             std::chrono::milliseconds default_timeout, const IdentityTokens* tokens = nullptr,
             const Territories* territories = nullptr);
  ~PluginHost();

  /// Loads every library of the config and checks its config section; blocking, at start-up.
  /// Throws ConfigError naming the plugin's entry in the config file and the reason.
  void load_all(const Config& config);

  /// Migrations, start(), routes() of every loaded plugin; a plugin that fails is marked failed
  /// (its routes answer 503) and the others go on.
  Task<void> start_all();

  /// Unpublishes every route, waits up to `grace` for in-flight requests, then stops plugins.
  Task<void> stop_all(std::chrono::milliseconds grace);

  // Runtime controls (operators, core/src/http/admin_plugins.cpp), one at a time. Refusals are
  // HttpErrors: 404 no such plugin, 409 already loaded, 422 a library, config or start refused
  // (with the reason). A retired plugin is drained (up to `grace`: the last request to leave
  // signals it), then stopped; its library is unloaded when the last holder lets it go.
  /// Loads `pc` (library path resolved, config checked against the plugin's schema), migrates,
  /// starts and routes it.
  Task<void> add(PluginConfig pc);
  /// Loads `library` (empty: the same file again) beside the running `name`, starts it with the
  /// same config, switches the routes in one table swap, then retires the old one. A new one
  /// that fails to start is refused and the running one goes on.
  Task<void> reload(std::string name, std::string library, std::chrono::milliseconds grace);
  /// Unroutes `name` (its routes are 404 from now), then retires it.
  Task<void> remove(std::string name, std::chrono::milliseconds grace);
  /// Makes the plugins those of `wanted` (a config read again): removes, adds, and reloads the
  /// entries that changed (library, config section, timeouts, limit). Each change stands alone;
  /// answers {added, removed, reloaded, failed: [{name, error}]}.
  Task<boost::json::object> apply(std::vector<PluginConfig> wanted,
                                  std::chrono::milliseconds grace);
  /// The plugins unrouted and still finishing requests (stopped when the last one ends).
  std::vector<std::shared_ptr<LoadedPlugin>> retiring() const;

  /// Waits for the plugins' blocking work under way (before the I/O threads go).
  void join();

  /// The current table; hold the pointer for the whole request.
  std::shared_ptr<const RouteTable> table() const { return table_.load(); }

  /// True once start_all() ran and every plugin is running.
  bool ready() const { return ready_.load(); }

  /// The plugins marked `required` that are not running (after start_all: the gateway stops).
  std::vector<std::string> failed_required() const;

  /// name, version, description, state of every plugin, for /api/plugins and /readyz.
  /// `with_failures`: a failed plugin's reason too (its first 300 characters).
  boost::json::array describe(bool with_failures = false) const;

  /// How a plugin's announcement (Host::announce) reaches the other instances: `send(plugin,
  /// message)`. Set before start_all(); unset, announcements go nowhere (one instance).
  void set_relay(std::function<void(const std::string& plugin, const std::string& message)> send);

  /// The mail relay of Host::mail() (before start_all; without it, no relay: send() throws).
  void set_mail(const MailConfig& mail, const std::string& ca_file);
  /// That relay, for the gateway's own mail (invitations); null before set_mail().
  Mailer* mailer() const { return mailer_.get(); }

  /// The files of upload routes (Host::attachments), before start_all; unset: none (an upload
  /// route answers 503).
  void set_attachments(AttachmentStore* attachments);
  AttachmentStore* attachments() const { return attachments_; }

  /// An announcement of `plugin` from another instance, for that plugin here if it runs; "*"
  /// for every plugin when announcements may have been lost. Any thread.
  void deliver(const std::string& plugin, const std::string& message);

 private:
  struct Pending;
  Pending* find(const std::string& name);
  Task<void> add_locked(PluginConfig pc);
  Task<void> reload_locked(PluginConfig pc, std::chrono::milliseconds grace);
  Task<void> remove_locked(std::string name, std::chrono::milliseconds grace);
  // Why `plugin` (loaded for `pc`) may not run beside the others; empty when it may.
  std::string refusal(const LoadedPlugin& plugin, const PluginConfig& pc) const;
  Task<std::shared_ptr<LoadedPlugin>> load_beside(const PluginConfig& pc,
                                                  boost::json::object& settings);
  // True when nothing of `plugin` is in flight, within `grace`.
  Task<bool> drain(std::shared_ptr<LoadedPlugin> plugin, std::chrono::milliseconds grace);
  Task<void> retire(std::shared_ptr<LoadedPlugin> plugin, std::chrono::milliseconds grace);
  Task<void> stop_retired(std::shared_ptr<LoadedPlugin> plugin);
  // Its stop(), within stop_timeout_; failures and hangs are logged, not thrown.
  Task<void> stop_plugin(std::shared_ptr<LoadedPlugin> plugin);
  std::chrono::milliseconds stop_timeout_{30'000};
  void refuse_when_stopping() const;
  struct Pending {
    std::shared_ptr<LoadedPlugin> plugin;
    PluginConfig config;
    boost::json::object settings;
  };
  Task<void> start_one(Pending& pending);
  void publish();

  Store& store_;
  HttpClient& http_;
  MetricsRegistry& metrics_;
  std::chrono::milliseconds default_timeout_;
  const IdentityTokens* tokens_;
  const Territories* territories_;
  std::unique_ptr<BlockingPool> blocking_;  // plugins' blocking work (Host::offload)
  std::unique_ptr<SmtpMailer> mailer_;      // Host::mail()
  AttachmentStore* attachments_ = nullptr;  // Host::attachments()
  ServiceRegistry services_;                // Host::offer(), Host::lookup()
  std::vector<Pending> plugins_;
  AsyncMutex admin_;       // the runtime controls, start and stop: one at a time
  bool stopping_ = false;  // stop_all() began: the runtime controls refuse (under admin_)
  std::vector<std::string> failed_required_;  // set by start_all() (under admin_)
  mutable std::mutex retiring_mutex_;
  std::vector<std::shared_ptr<LoadedPlugin>> retiring_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for late drain callbacks
  std::size_t gauges_ = 0;                                      // in the metrics registry
  std::atomic<std::shared_ptr<const RouteTable>> table_;
  std::atomic<bool> ready_{false};
  std::function<void(const std::string&, const std::string&)> relay_;
};

}  // namespace passerelle
