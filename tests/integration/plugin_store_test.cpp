// Plugins and the store through the real binary: a plugin cannot reach the core's tables; the
// demo that tools/run starts comes up offline (territories fixture) with every plugin ready; two
// operators editing directorates at the same time all get their writes.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/pg_cluster.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <sstream>
#include <thread>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

// A store holding only the territories fixture, as tools/run leaves it without the registry
// (tools/import-territories --from tests/fixtures/territories).

// The demo gateway of tools/run, offline: shipped plugins and seed over the fixture store.
struct OfflineDemo {
  TempDir dir;
  GatewayProcess gw{"demo: true\nstore:\n  sqlite: " + fixture_store(dir) + "\n" +
                    shipped_plugins()};
  OfflineDemo() { BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log()); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_store)

// The same gateway with its store on PostgreSQL (store.postgresql, the URL from the
// environment): the territories imported, the demo accounts, the shipped plugins in roles of
// their own, and a plugin that tries the accounts table refused by the database itself.
BOOST_AUTO_TEST_CASE(the_demo_runs_on_postgresql) {
  if (!have_postgresql()) {
    BOOST_TEST_MESSAGE("*** PostgreSQL is not installed here: this test is SKIPPED ***");
    return;
  }
  Cluster db;
  setenv("PASSERELLE_TEST_PG_URL", db.url.c_str(), 1);
  const std::string store = "store:\n  postgresql:\n    url: ${PASSERELLE_TEST_PG_URL}\n";
  TempDir dir;
  const std::string setup = dir.write(
      "setup.yaml", "tls:\n  certificate: c\n  private_key: k\nauth:\n  secret_key_file: " +
                        dir.path() + "/secret.key\n" + store);
  auto imported = run_passerelle({"--config", setup, "territories", "import",
                                  std::string(PASSERELLE_TEST_FIXTURES) + "/territories"});
  BOOST_REQUIRE_MESSAGE(imported.exit_code == 0, imported.output);
  GatewayProcess gw("demo: true\n" + store + shipped_plugins() +
                    "  - name: snoop\n    library: " + module("snoop") + "\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  BOOST_TEST(gw.log().find("\"store\":\"postgresql (127.0.0.1:") != std::string::npos);
  BOOST_TEST(gw.log().find(db.url.substr(db.url.find(':', 14) + 1, 8)) == std::string::npos);
  TestConnection c(gw.https_port());
  Session elu = login(gw, "elu.angers", "passerelle-demo");
  auto r = c.request("GET", "/api/directorates/mine", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 200);
  BOOST_TEST(boost::json::parse(r->body).at("id").as_string() == "pays-de-la-loire");
  r = c.request("GET", "/api/territories/communes/49007");
  BOOST_TEST(r->status == 200);
  r = c.request("GET", "/api/snoop/notes");
  BOOST_TEST(r->body == R"({"notes":1,"dialect":"postgresql"})");
  r = c.request("GET", "/api/snoop/accounts");
  BOOST_TEST(r->status == 500);
  BOOST_TEST(r->body.find("users") == std::string::npos);
  // Its schema is all it sees: the accounts table is not even there for it.
  BOOST_TEST(gw.wait_for_log("relation \\\"users\\\" does not exist"), gw.log());
  r = c.request("GET", "/readyz");
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body.find(R"("store":"ok")") != std::string::npos, r->body);
  // The database stops: /readyz tells within the health check's 2 s, what needs the store
  // answers 503 to retry, what memory answers still does; back, all is served again.
  // /readyz answers `status` within 12 s (polled every 200 ms).
  const auto readyz_becomes = [&c](int status) {
    for (int i = 0; i < 60; ++i) {
      if (c.request("GET", "/readyz")->status == status) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  };
  db.stop();
  BOOST_TEST(readyz_becomes(503));
  TestConnection fresh(gw.https_port());
  r = fresh.request("POST", "/auth/login",
                    R"({"username":"agent.angers","password":"passerelle-demo"})",
                    {{"Origin", elu.origin}, {"Content-Type", "application/json"}});
  BOOST_TEST(r->status == 503, r->body);
  BOOST_TEST(r->headers["retry-after"] == "5");
  BOOST_TEST(c.request("GET", "/api/directorates/mine", "", {{"Cookie", elu.cookie}})->status ==
             200);
  db.restart();
  BOOST_TEST(readyz_becomes(200));
  BOOST_TEST(login(gw, "agent.angers", "passerelle-demo").cookie.size() > 10);
}

BOOST_AUTO_TEST_CASE(a_plugin_cannot_read_the_accounts_table) {
  GatewayProcess gw("plugins:\n  - name: snoop\n    library: " + module("snoop") + "\n");
  BOOST_REQUIRE(gw.wait_for_log("\"msg\":\"ready\""));
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/api/snoop/accounts");
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 500);
  BOOST_TEST(r->body.find("users") == std::string::npos);  // the detail goes to the log only
  BOOST_TEST(gw.wait_for_log("plugin \\\"snoop\\\" may not read table users"), gw.log());
  r = c.request("GET", "/api/snoop/keys");
  BOOST_TEST(r->status == 500);
  BOOST_TEST(gw.wait_for_log("plugin \\\"snoop\\\" may not read table signing_keys"));
  // Its own table answers, and the gateway is unharmed.
  r = c.request("GET", "/api/snoop/notes");
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body == R"({"notes":1,"dialect":"sqlite"})");
  BOOST_TEST(c.request("GET", "/readyz")->status == 200);
}

BOOST_AUTO_TEST_CASE(the_offline_demo_comes_up_with_every_plugin_ready) {
  OfflineDemo demo;
  TestConnection c(demo.gw.https_port());
  auto r = c.request("GET", "/readyz");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200, r->body);
  r = c.request("GET", "/api/plugins");
  const auto plugins = boost::json::parse(r->body).at("plugins").as_array();
  BOOST_TEST(plugins.size() == 5u);  // hello, directorates, localtis, conseils, offers
  for (const auto& p : plugins)
    BOOST_TEST(p.at("state").as_string() == "running", p.at("name").as_string());
  // The élu of Angers finds the directorate of the whole country's seed.
  Session elu = login(demo.gw, "elu.angers", "passerelle-demo");
  r = c.request("GET", "/api/directorates/mine", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(r->status == 200);
  BOOST_TEST(boost::json::parse(r->body).at("id").as_string() == "pays-de-la-loire");
  r = c.request("GET", "/api/directorates", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(boost::json::parse(r->body).at("directorates").as_array().size() == 25u);
  r = c.request("GET", "/api/directorates/for?department=75", "", {{"Cookie", elu.cookie}});
  BOOST_TEST(boost::json::parse(r->body).at("directorates").at(0).at("id").as_string() ==
             "ile-de-france");
  Session op = login(demo.gw, "operateur.demo", "passerelle-demo");
  r = c.request("GET", "/api/directorates/coverage", "", {{"Cookie", op.cookie}});
  BOOST_TEST(r->body == R"({"complete":true,"problems":[]})");
  // The demo's news, from the feeds written for it, with no network: the regional one first
  // for a search of the élu of Angers (Pays de la Loire).
  BOOST_TEST_REQUIRE(demo.gw.wait_for_log("feed pays-de-la-loire: 2 articles stored"),
                     demo.gw.log());
  r = c.request("GET", "/api/localtis/articles?q=financement", "", {{"Cookie", elu.cookie}});
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  const auto news = boost::json::parse(r->body).at("articles").as_array();
  BOOST_TEST_REQUIRE(news.size() >= 2u);
  BOOST_TEST(news.at(0).at("region").as_string() == "52");
  r = c.request("GET", "/api/localtis/feeds", "", {{"Cookie", op.cookie}});
  const auto feeds = boost::json::parse(r->body);
  for (const auto& f : feeds.at("feeds").as_array())
    BOOST_TEST(f.at("last_status").as_string() == "ok", f.at("id").as_string());
}

BOOST_AUTO_TEST_CASE(two_operators_editing_at_once_all_get_their_writes) {
  OfflineDemo demo;
  auto added = run_passerelle({"--config", demo.gw.config_path(), "users", "add", "olga", "--name",
                               "Olga Martin", "--roles", "operator"},
                              "another operator password\n");
  BOOST_REQUIRE_MESSAGE(added.exit_code == 0, added.output);
  const Session sessions[2] = {login(demo.gw, "operateur.demo", "passerelle-demo"),
                               login(demo.gw, "olga", "another operator password")};

  // 20 PUTs of the same directorate, 10 from each operator, sent together on 20 connections.
  constexpr int kWrites = 20;
  std::vector<std::unique_ptr<TestConnection>> connections;
  for (int i = 0; i < kWrites; ++i) {
    connections.push_back(std::make_unique<TestConnection>(demo.gw.https_port()));
    BOOST_REQUIRE(connections.back()->connected());
  }
  std::latch go(kWrites);
  std::vector<int> statuses(kWrites, 0);
  std::vector<std::thread> writers;
  for (int i = 0; i < kWrites; ++i)
    writers.emplace_back([&, i] {
      const std::string body =
          R"({"id":"pays-de-la-loire","name":"Direction régionale Pays de la Loire )" +
          std::to_string(i) +
          R"(","region":"52","departments":["44","49","53","72","85"],"address":"2 place de la Bourse, 44000 Nantes",)"
          R"("phone":"+33 2 61 91 52 00","email":"dr-pdl@demo.passerelle.invalid"})";
      go.arrive_and_wait();
      auto r = connections[i]->request("PUT", "/api/directorates/pays-de-la-loire", body,
                                       sessions[i % 2].write_headers());
      statuses[i] = r ? r->status : -1;
    });
  for (auto& w : writers) w.join();
  for (int i = 0; i < kWrites; ++i) BOOST_TEST(statuses[i] == 200, "write " << i);
}

// One instance on SQLite: territories imported again are served after kill -HUP, with no
// restart; an import the store cannot give (none there) keeps the ones served.
BOOST_AUTO_TEST_CASE(territories_imported_again_are_served_after_sighup) {
  OfflineDemo demo;
  TempDir renamed;
  write_renamed_fixture(renamed);
  auto imported =
      run_passerelle({"--config", demo.gw.config_path(), "territories", "import", renamed.path()});
  BOOST_TEST_REQUIRE(imported.exit_code == 0, imported.output);
  BOOST_TEST(imported.output.find("kill -HUP") != std::string::npos, imported.output);
  TestConnection c(demo.gw.https_port());
  BOOST_TEST(c.request("GET", "/api/territories/communes/49007")->body.find("Angers-sur-Maine") ==
             std::string::npos);
  kill(demo.gw.pid(), SIGHUP);
  BOOST_TEST_REQUIRE(demo.gw.wait_for_log("territories reloaded"), demo.gw.log());
  BOOST_TEST(c.request("GET", "/api/territories/communes/49007")->body.find("Angers-sur-Maine") !=
             std::string::npos);
  const Session elu = login(demo.gw, "elu.angers", "passerelle-demo");
  BOOST_TEST(c.request("GET", "/api/directorates/mine", "", {{"Cookie", elu.cookie}})->status ==
             200);
}

// A running SQLite deployment moved up: `store copy` while the gateway serves, then a gateway on
// PostgreSQL with the same key finds the accounts (passwords, API tokens, open sessions), the
// plugins' rows and the territories, and new ids continue after the copied ones. A second copy
// into the same database is refused.
BOOST_AUTO_TEST_CASE(a_running_sqlite_store_is_copied_into_postgresql) {
  if (!have_postgresql()) {
    BOOST_TEST_MESSAGE("*** PostgreSQL is not installed here: this test is SKIPPED ***");
    return;
  }
  OfflineDemo demo;
  auto added = run_passerelle({"--config", demo.gw.config_path(), "users", "add", "olga", "--name",
                               "Olga Martin", "--roles", "operator"},
                              "another operator password\n");
  BOOST_REQUIRE_MESSAGE(added.exit_code == 0, added.output);
  auto created = run_passerelle(
      {"--config", demo.gw.config_path(), "tokens", "create", "--user", "olga", "--name", "ci"});
  BOOST_REQUIRE_MESSAGE(created.exit_code == 0, created.output);
  const std::string token = created.output.substr(0, created.output.find('\n'));
  const Session op = login(demo.gw, "operateur.demo", "passerelle-demo");
  TestConnection c(demo.gw.https_port());
  auto item = c.request("POST", "/api/hello/items", R"({"name":"Saumur"})", op.write_headers());
  BOOST_TEST_REQUIRE(item->status == 201);
  const std::string item_id = std::to_string(boost::json::parse(item->body).at("id").as_int64());
  auto contact = c.request(
      "POST", "/api/directorates/pays-de-la-loire/contacts",
      R"({"role":"Chargée de mission","name":"Claire Dubois","email":"c.dubois@demo.passerelle.invalid","phone":"+33 2 00 00 00 01"})",
      op.write_headers());
  BOOST_TEST_REQUIRE(contact->status == 201);

  Cluster db;
  // The URL without its password, which comes from the environment (not from ps).
  const auto at = db.url.find('@'), colon = db.url.find(':', 11);
  const std::string password = db.url.substr(colon + 1, at - colon - 1);
  const std::string url = db.url.substr(0, colon) + db.url.substr(at);
  setenv("PGPASSWORD", password.c_str(), 1);
  auto copied = run_passerelle(
      {"--config", demo.gw.config_path(), "store", "copy", "--to", url, "--sessions"});
  auto again = run_passerelle({"--config", demo.gw.config_path(), "store", "copy", "--to", url});
  unsetenv("PGPASSWORD");
  BOOST_TEST_REQUIRE(copied.exit_code == 0, copied.output);
  BOOST_TEST(copied.output.find("row counts match") != std::string::npos, copied.output);
  BOOST_TEST(copied.output.find("territory_communes") != std::string::npos, copied.output);
  BOOST_TEST(copied.output.find("url: ${PASSERELLE_PG_URL}") != std::string::npos);
  BOOST_TEST(copied.output.find(password) == std::string::npos);
  BOOST_TEST(again.exit_code == 1);
  BOOST_TEST(again.output.find("is not empty") != std::string::npos, again.output);

  setenv("PASSERELLE_TEST_PG_URL", db.url.c_str(), 1);
  GatewayProcess moved(
      "demo: true\nstore:\n  postgresql:\n    url: ${PASSERELLE_TEST_PG_URL}\n"
      "auth:\n  secret_key_file: " +
      demo.dir.path() + "/secret.key\n" + shipped_plugins());
  BOOST_REQUIRE_MESSAGE(moved.wait_for_log("\"msg\":\"ready\""), moved.log());
  TestConnection m(moved.https_port());
  BOOST_TEST(m.request("GET", "/api/me", "", {{"Cookie", op.cookie}})->status == 200);
  BOOST_TEST(m.request("GET", "/metrics", "", {{"Authorization", "Bearer " + token}})->status ==
             200);
  BOOST_TEST(login(moved, "olga", "another operator password").cookie.size() > 10);
  auto copied_item = m.request("GET", "/api/hello/items/" + item_id);
  BOOST_TEST(copied_item->body.find("Saumur") != std::string::npos, copied_item->body);
  auto directorate =
      m.request("GET", "/api/directorates/pays-de-la-loire", "", {{"Cookie", op.cookie}});
  BOOST_TEST(directorate->headers["etag"] == "\"2\"");
  BOOST_TEST(m.request("GET", "/api/territories/communes/49007")->status == 200);
  // New rows take ids after the copied ones.
  const Session on_pg{op.cookie, op.csrf,
                      "https://localhost:" + std::to_string(moved.https_port())};
  auto next = m.request("POST", "/api/hello/items", R"({"name":"Cholet"})", on_pg.write_headers());
  BOOST_TEST_REQUIRE(next->status == 201, next->body);
  BOOST_TEST(boost::json::parse(next->body).at("id").as_int64() > std::stoll(item_id));
  auto another = run_passerelle({"--config", moved.config_path(), "users", "add", "paul", "--name",
                                 "Paul Durand", "--roles", "agent"},
                                "a third password here\n");
  BOOST_TEST(another.exit_code == 0, another.output);
}

BOOST_AUTO_TEST_SUITE_END()
