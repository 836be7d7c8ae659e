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
#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"
#include "support/pg_cluster.hpp"
#include "support/run.hpp"
#include "support/temp_dir.hpp"
#include "territories/importer.hpp"
#include "territories/territory_index.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <memory>

namespace passerelle::test {

/// Which store the fixtures run on: SQLite in their folder, or, when the environment says
/// PASSERELLE_TEST_STORE=postgresql (ctest's `.postgresql` entries), a new database of one
/// throwaway cluster per test process. So the plugin suites run on both backends.
inline bool test_store_is_postgresql() {
  const char* which = std::getenv("PASSERELLE_TEST_STORE");
  if (!which || std::string(which) != "postgresql") return false;
  static const bool installed = [] {
    if (!have_postgresql())
      BOOST_TEST_MESSAGE(
          "*** PostgreSQL is not installed here: these cases run on SQLite "
          "again, the PostgreSQL run is SKIPPED ***");
    return have_postgresql();
  }();
  return installed;
}

inline Cluster& shared_test_cluster() {
  static Cluster cluster;  // stopped and removed when the process ends
  return cluster;
}

/// A store on `where`: an SQLite file, or a postgresql:// URL.
inline std::unique_ptr<Store> open_test_store(const std::string& where, unsigned threads = 2) {
  if (where.rfind("postgresql://", 0) != 0) return std::make_unique<SqliteStore>(where, threads);
  PgOptions options;
  options.url = where;
  options.role_secret = "the role secret of the tests";
  return std::make_unique<PgStore>(std::move(options));
}

struct AppFixture {
  TempDir dir;
  // The database: the SQLite file, or the URL of this fixture's PostgreSQL database.
  std::string store_location = test_store_is_postgresql() ? shared_test_cluster().fresh_database()
                                                          : dir.path() + "/db.sqlite";
  std::unique_ptr<Store> owned_store = open_test_store(store_location);
  Store& store = *owned_store;
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

  /// Another handle on the same database (as a restarted gateway opens it).
  std::unique_ptr<Store> reopen_store() const { return open_test_store(store_location, 1); }

  /// A case that plays SQLite itself (another writer holding the file, a store as an old
  /// release left it) says so and is skipped on PostgreSQL.
  bool skipped_on_postgresql() const {
    if (store.dialect() != "postgresql") return false;
    BOOST_TEST_MESSAGE("this case plays SQLite itself: skipped on PostgreSQL");
    return true;
  }

  Response call(const std::string& method, const std::string& target, std::string body = "",
                const std::string& content_type = "application/json",
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    IncomingRequest in;
    in.method = method;
    in.target = target;
    in.body = std::move(body);
    if (!in.body.empty()) in.headers.emplace_back("content-type", content_type);
    for (const auto& h : headers) in.headers.push_back(h);
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
  // Of a commune whose référent was never appointed: every service (current_organisation.hpp).
  id.organisation = "49007";
  id.every_service = true;
  return id;
}

}  // namespace passerelle::test
