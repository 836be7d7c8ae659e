// The Host one plugin sees: its config, a logger with its name, the store confined to its own
// tables, HTTP, metrics.
#pragma once

#include "auth/identity_tokens.hpp"
#include "metrics/registry.hpp"
#include "passerelle/host.hpp"
#include "plugins/service_registry.hpp"
#include "store/sqlite_store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace passerelle {

class BlockingPool;

class PluginLogger final : public Logger {
 public:
  explicit PluginLogger(std::string plugin) : component_("plugin." + std::move(plugin)) {}
  void log(Level level, std::string_view message) override;

 private:
  std::string component_;
};

class LoadedPlugin;
class AttachmentStore;

/// Host::attachments(): the host's attachments service, confined to one plugin's files.
class PluginAttachments final : public Attachments {
 public:
  PluginAttachments(AttachmentStore* store, std::string plugin)
      : store_(store), plugin_(std::move(plugin)) {}
  Task<std::optional<Attachment>> find(std::string id) override;
  Task<Response> download(std::string id) override;
  Task<void> remove(std::string id) override;

 private:
  AttachmentStore& store();
  AttachmentStore* store_;
  std::string plugin_;
};

class PluginServices final : public Host {
 public:
  /// Sends one of this plugin's announcements to the other instances (empty: one instance).
  using Announcer = std::function<void(const std::string& message)>;

  PluginServices(const std::string& plugin, boost::json::object config,
                 std::unique_ptr<PluginStore> database, HttpClient& http, MetricsRegistry& metrics,
                 const IdentityTokens* tokens, const Territories& territories,
                 BlockingPool& blocking, Mailer& mailer, AttachmentStore* attachments,
                 ServiceRegistry& services, std::weak_ptr<LoadedPlugin> self,
                 Announcer announcer = {}, boost::asio::any_io_executor executor = {})
      : plugin_(plugin),
        config_(std::move(config)),
        logger_(plugin),
        database_(std::move(database)),
        http_(http),
        metrics_(metrics, plugin),
        tokens_(tokens),
        territories_(territories),
        blocking_(blocking),
        mailer_(mailer),
        attachments_(attachments, plugin),
        services_(services),
        self_(std::move(self)),
        announcer_(std::move(announcer)),
        executor_(std::move(executor)) {}

  const boost::json::object& config() const override { return config_; }
  Logger& logger() override { return logger_; }
  Database& database() override { return *database_; }
  HttpClient& http() override { return http_; }
  Metrics& metrics() override { return metrics_; }
  Task<void> sleep(std::chrono::milliseconds duration) override;
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  std::string identity_token(const Identity& identity, const std::string& audience) override;
  const Territories& territories() override { return territories_; }
  Task<void> offload(std::function<void()> work) override;
  void announce(const std::string& message) override;
  void on_announcement(std::function<Task<void>(std::string)> handler) override;
  Mailer& mail() override { return mailer_; }
  Attachments& attachments() override { return attachments_; }
  void offer(const std::string& name, Service& service) override {
    services_.offer(name, service, self_);
  }
  std::shared_ptr<Service> lookup(const std::string& name) override {
    return services_.lookup(name);
  }

  /// A message this plugin announced on another instance ("*": some may have been lost):
  /// queued, and handed to the plugin's handler one at a time on the host's executor, `owner`
  /// (the plugin these services belong to) kept loaded and counted in flight meanwhile.
  void deliver(std::string message, std::shared_ptr<LoadedPlugin> owner);

 private:
  Task<void> drain(std::shared_ptr<LoadedPlugin> owner);

  std::string plugin_;
  boost::json::object config_;
  PluginLogger logger_;
  std::unique_ptr<PluginStore> database_;
  HttpClient& http_;
  PluginMetrics metrics_;
  const IdentityTokens* tokens_;
  const Territories& territories_;
  BlockingPool& blocking_;
  Mailer& mailer_;
  PluginAttachments attachments_;
  ServiceRegistry& services_;
  std::weak_ptr<LoadedPlugin> self_;  // the plugin these services belong to
  Announcer announcer_;
  boost::asio::any_io_executor executor_;
  // The rate of announce(): a window of one second.
  static constexpr int kAnnouncementsPerSecond = 100;
  std::mutex rate_mutex_;
  std::chrono::steady_clock::time_point window_start_{};
  int sent_ = 0;
  int dropped_ = 0;
  std::mutex announcements_mutex_;  // the handler and the queue: the store's thread delivers
  std::function<Task<void>(std::string)> on_announcement_;
  std::deque<std::string> announcements_;
  bool draining_ = false;
};

}  // namespace passerelle
