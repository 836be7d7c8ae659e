// The Host one plugin sees: its config, a logger with its name, the store confined to its own
// tables, HTTP, metrics.
#pragma once

#include "auth/identity_tokens.hpp"
#include "metrics/registry.hpp"
#include "passerelle/host.hpp"
#include "store/sqlite_store.hpp"

#include <boost/json/object.hpp>

#include <memory>
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

class PluginServices final : public Host {
 public:
  PluginServices(const std::string& plugin, boost::json::object config,
                 std::unique_ptr<PluginStore> database, HttpClient& http, MetricsRegistry& metrics,
                 const IdentityTokens* tokens, const Territories& territories,
                 BlockingPool& blocking)
      : config_(std::move(config)),
        logger_(plugin),
        database_(std::move(database)),
        http_(http),
        metrics_(metrics, plugin),
        tokens_(tokens),
        territories_(territories),
        blocking_(blocking) {}

  const boost::json::object& config() const override { return config_; }
  Logger& logger() override { return logger_; }
  Database& database() override { return *database_; }
  HttpClient& http() override { return http_; }
  Metrics& metrics() override { return metrics_; }
  Task<void> sleep(std::chrono::milliseconds duration) override;
  std::string identity_token(const Identity& identity, const std::string& audience) override;
  const Territories& territories() override { return territories_; }
  Task<void> offload(std::function<void()> work) override;

 private:
  boost::json::object config_;
  PluginLogger logger_;
  std::unique_ptr<PluginStore> database_;
  HttpClient& http_;
  PluginMetrics metrics_;
  const IdentityTokens* tokens_;
  const Territories& territories_;
  BlockingPool& blocking_;
};

}  // namespace passerelle
