// The demo of tools/run for integration tests: its plugins and seed, and a logged-in browser.
#pragma once

#include "support/gateway_process.hpp"
#include "support/https_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace passerelle::test {

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// The plugins of the shipped config/passerelle.yaml, as tools/run starts them: libraries found
/// through PASSERELLE_MODULES, the seed and the feeds named by their absolute paths (this config
/// lives elsewhere).
/// A SQLite store in `dir` with the territories fixture imported (what tools/run's import
/// does), for a gateway started on it; its path.
inline std::string fixture_store(const TempDir& dir) {
  const std::string db = dir.path() + "/db.sqlite";
  const std::string setup = dir.write(
      "setup.yaml", "tls:\n  certificate: c\n  private_key: k\nstore:\n  sqlite: " + db + "\n");
  auto imported = run_passerelle({"--config", setup, "territories", "import",
                                  std::string(PASSERELLE_TEST_FIXTURES) + "/territories"});
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.output);
  return db;
}

inline std::string shipped_plugins() {
  const std::string source = PASSERELLE_SOURCE_DIR;
  const std::string config = read_text(source + "/config/passerelle.yaml");
  const auto at = config.find("\nplugins:");
  BOOST_REQUIRE(at != std::string::npos);
  std::string plugins = config.substr(at + 1);
  const std::string seed = "data_file: directorates.yaml";
  const auto seed_at = plugins.find(seed);
  BOOST_REQUIRE(seed_at != std::string::npos);
  plugins.replace(seed_at, seed.size(), "data_file: " + source + "/config/directorates.yaml");
  const std::string feeds = "feeds_file: localtis-feeds.yaml";
  const auto feeds_at = plugins.find(feeds);
  BOOST_REQUIRE(feeds_at != std::string::npos);
  plugins.replace(feeds_at, feeds.size(), "feeds_file: " + source + "/config/localtis-feeds.yaml");
  const std::string settings = "settings_file: conseils.yaml";
  const auto settings_at = plugins.find(settings);
  BOOST_REQUIRE(settings_at != std::string::npos);
  plugins.replace(settings_at, settings.size(),
                  "settings_file: " + source + "/config/conseils.yaml");
  const std::string catalogue = "catalogue_file: offers.yaml";
  const auto catalogue_at = plugins.find(catalogue);
  BOOST_REQUIRE(catalogue_at != std::string::npos);
  plugins.replace(catalogue_at, catalogue.size(),
                  "catalogue_file: " + source + "/config/offers.yaml");
  setenv("PASSERELLE_MODULES", PASSERELLE_TEST_MODULES, 1);
  return plugins;
}

/// The territories fixture written into `dir`, Angers (49007) renamed "Angers-sur-Maine": an
/// import that changes something visible.
inline void write_renamed_fixture(const TempDir& dir) {
  for (const char* file : {"regions.json", "departements.json", "communes.json", "epci.json",
                           "arrondissements.json"}) {
    std::string text = read_text(std::string(PASSERELLE_TEST_FIXTURES) + "/territories/" + file);
    if (std::string(file) == "communes.json") {
      const std::string from = R"("code":"49007","nom":"Angers")";
      const auto at = text.find(from);
      BOOST_TEST_REQUIRE(at != std::string::npos);
      text.replace(at, from.size(), R"("code":"49007","nom":"Angers-sur-Maine")");
    }
    dir.write(file, text);
  }
}

/// A logged-in browser: its cookie and CSRF token, and the origin it logged in at.
struct Session {
  std::string cookie, csrf, origin;

  std::vector<std::pair<std::string, std::string>> write_headers() const {
    return {{"Cookie", cookie},
            {"Origin", origin},
            {"X-CSRF-Token", csrf},
            {"Content-Type", "application/json"}};
  }
};

/// Logs `user` in through the HTTPS port `port` (a gateway or a balancer in front of several).
inline Session login(std::uint16_t port, const std::string& user, const std::string& password) {
  Session s;
  s.origin = "https://localhost:" + std::to_string(port);
  TestConnection c(port);
  auto r = c.request("POST", "/auth/login",
                     R"({"username":")" + user + R"(","password":")" + password + "\"}",
                     {{"Origin", s.origin}, {"Content-Type", "application/json"}});
  BOOST_REQUIRE(r.has_value());
  BOOST_REQUIRE_MESSAGE(r->status == 200, r->body);
  s.cookie = r->headers["set-cookie"].substr(0, r->headers["set-cookie"].find(';'));
  auto me = c.request("GET", "/api/me", "", {{"Cookie", s.cookie}});
  BOOST_REQUIRE(me.has_value() && me->status == 200);
  s.csrf = std::string(boost::json::parse(me->body).at("csrf_token").as_string());
  return s;
}

inline Session login(const GatewayProcess& gw, const std::string& user,
                     const std::string& password) {
  return login(gw.https_port(), user, password);
}

}  // namespace passerelle::test
