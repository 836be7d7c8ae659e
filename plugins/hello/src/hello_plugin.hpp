// hello: the example plugin. It shows every part of the SDK in a few lines each: typed config,
// logger, migrations, database, outbound HTTP, metrics, roles and a dashboard widget.
#pragma once

#include "passerelle/plugin.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace passerelle::plugins::hello {

/// The plugin's name, written once: its routes are mounted under /api/hello and its tables
/// are named hello_….
inline constexpr const char* kName = "hello";

/// The config section, read once at start (ConfigReader in hello_plugin.cpp).
struct Settings {
  std::string greeting = "Bonjour";  ///< Text of GET /api/hello.
  std::string upstream_url;          ///< URL fetched by GET /api/hello/upstream.
  std::int64_t max_items = 1000;     ///< Items kept at most.
};

/// The example service: a greeting, a list of items, an upstream call.
class HelloPlugin final : public Plugin {
 public:
  PluginInfo info() const override;
  std::vector<ConfigField> config_schema() const override;
  std::vector<Migration> migrations() const override;
  Task<void> start(Host& host) override;
  std::vector<Route> routes() override;
  bool widget_immediate() const override { return true; }  // made from the identity alone
  Task<std::optional<boost::json::value>> widget(Identity identity) override;

 private:
  Task<Response> greet(Request r);
  Task<Response> list(Request r);
  Task<Response> create(Request r);
  Task<Response> get(Request r);
  Task<Response> echo(Request r);
  Task<Response> upstream(Request r);
  Task<Response> me(Request r);

  Host* host_ = nullptr;
  Settings settings_;
  Counter* greetings_ = nullptr;
};

}  // namespace passerelle::plugins::hello
