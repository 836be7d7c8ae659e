// Loads, starts and stops the plugins, and publishes their routes as one immutable table that
// is replaced atomically; each request keeps the plugin it uses alive.
#pragma once

#include "mail/smtp_mailer.hpp"

#include "config/config.hpp"
#include "http/router.hpp"
#include "metrics/registry.hpp"
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
  std::atomic<std::shared_ptr<const RouteTable>> table_;
  std::atomic<bool> ready_{false};
  std::function<void(const std::string&, const std::string&)> relay_;
};

}  // namespace passerelle
