// The application without the network: store, plugin host and dispatcher over a temp folder,
// with an identity the test chooses. Requests run to completion on a private io_context.
#pragma once

#include "client/http_client.hpp"
#include "config/config.hpp"
#include "http/dashboard.hpp"
#include "http/dispatcher.hpp"
#include "http/status_routes.hpp"
#include "metrics/registry.hpp"
#include "plugins/plugin_host.hpp"
#include "store/sqlite_store.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"
#include "territories/importer.hpp"
#include "territories/territory_index.hpp"

#include <boost/json/parse.hpp>

namespace passerelle::test {

struct AppFixture {
  TempDir dir;
  SqliteStore store{dir.path() + "/db.sqlite", 2};
  OutboundHttpClient http{OutboundConfig{}};
  MetricsRegistry metrics;
  TerritoryIndex territories{
      read_territories(std::string(PASSERELLE_TEST_FIXTURES) + "/territories")};
  PluginHost host{store, http, metrics, std::chrono::seconds(5), nullptr, &territories};
  std::optional<Identity> identity;  // who the next requests come from
  // As if authenticated by a bearer token: no CSRF (cookie sessions are tested end to end).
  Dispatcher dispatcher{host, metrics,
                        [this](const IncomingRequest&) -> Task<std::optional<AuthContext>> {
                          if (!identity) co_return std::nullopt;
                          AuthContext ctx;
                          ctx.identity = *identity;
                          co_return ctx;
                        },
                        routes()};

  std::vector<CoreRoute> routes() {
    auto r = status_routes(host, metrics);
    r.push_back(dashboard_route(host, std::chrono::milliseconds(300)));
    return r;
  }

  /// Loads and starts the plugins of a YAML list.
  void start(const std::string& plugins_yaml) {
    const std::string file =
        dir.write("p.yaml", "tls:\n  certificate: c\n  private_key: k\nplugins:\n" + plugins_yaml);
    host.load_all(load_config(file));
    run(host.start_all());
  }

  /// Stops the plugins (as at shutdown), so that a second fixture can reopen the same store.
  void stop() { run(host.stop_all(std::chrono::milliseconds(0))); }

  Response call(const std::string& method, const std::string& target, std::string body = "",
                const std::string& content_type = "application/json") {
    IncomingRequest in;
    in.method = method;
    in.target = target;
    in.body = std::move(body);
    if (!in.body.empty()) in.headers.emplace_back("content-type", content_type);
    in.request_id = "test-request";
    return run(dispatcher.handle(std::move(in)));
  }

  static boost::json::value json(const Response& r) { return boost::json::parse(r.body); }
  static std::string error_code(const Response& r) {
    return std::string(json(r).at("error").at("code").as_string());
  }
};

inline Identity make_identity(std::vector<std::string> roles) {
  Identity id;
  id.subject = "u-1";
  id.display_name = "Marie Dupont";
  id.roles = std::move(roles);
  id.commune_insee = "49007";
  id.provider = "local";
  return id;
}

}  // namespace passerelle::test
