// Sign-in end to end with the real binary: login, cookie, /api/me, logout; CSRF; throttling
// (and no lock-out from another address); the bounded password-check queue; roles; API tokens;
// disabled accounts; the caller cache (invalidated at once by the gateway, within its TTL by
// the CLI); the demo-password guard; secrets sealed at rest; no secret in the log; providers
// discovered at start-up.
#include "store/sqlite_store.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

using namespace passerelle::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "correct horse battery";

std::string plugins_yaml() {
  return "plugins:\n  - name: hello\n    library: " + module("hello") + "\n";
}

// A gateway with hello and two accounts: marie (elu of Angers) and olga (operator).
struct Gateway : GatewayProcess {
  explicit Gateway(const std::string& auth_yaml = "") : GatewayProcess(plugins_yaml() + auth_yaml) {
    add_user("marie", "elu", "Marie Dupont");
    add_user("olga", "operator", "Olga Martin");
  }
  void add_user(const std::string& name, const std::string& role, const std::string& display) {
    auto r = run_passerelle({"--config", config_path(), "users", "add", name, "--name", display,
                             "--roles", role, "--commune", "49007"},
                            std::string(kPassword) + "\n");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  }
  std::string origin() const { return "https://localhost:" + std::to_string(https_port()); }
};

std::string encode(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '+')
      out += static_cast<char>(ch);
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", ch);
      out += buf;
    }
  }
  return out;
}

// A logged-in browser: its cookie and CSRF token.
struct Browser {
  TestConnection c;
  std::string cookie;
  std::string csrf;
  std::string origin;

  explicit Browser(const Gateway& gw) : c(gw.https_port()), origin(gw.origin()) {}

  std::optional<HttpReply> login(const std::string& user, const std::string& password,
                                 const std::string& next = "/api/me") {
    auto r = c.request("POST", "/auth/login",
                       "username=" + user + "&password=" + password + "&next=" + encode(next),
                       {{"Content-Type", "application/x-www-form-urlencoded"}, {"Origin", origin}});
    if (r && r->headers.count("set-cookie")) {
      const std::string set = r->headers["set-cookie"];
      cookie = set.substr(0, set.find(';'));
      auto me = get("/api/me");
      if (me && me->status == 200)
        csrf = std::string(boost::json::parse(me->body).at("csrf_token").as_string());
    }
    return r;
  }
  std::optional<HttpReply> get(const std::string& target) {
    return c.request("GET", target, "", {{"Cookie", cookie}});
  }
  std::optional<HttpReply> post(const std::string& target, const std::string& body,
                                bool with_csrf = true, const std::string& from = "") {
    std::vector<std::pair<std::string, std::string>> h{{"Cookie", cookie},
                                                       {"Origin", from.empty() ? origin : from}};
    if (with_csrf) h.emplace_back("X-CSRF-Token", csrf);
    return c.request("POST", target, body, h);
  }
  std::optional<HttpReply> del(const std::string& target, bool with_csrf = true) {
    std::vector<std::pair<std::string, std::string>> h{{"Cookie", cookie}, {"Origin", origin}};
    if (with_csrf) h.emplace_back("X-CSRF-Token", csrf);
    return c.request("DELETE", target, "", h);
  }
};

// Polls until `done` holds, for at most `limit`: a change made by the admin CLI (another
// process) reaches the gateway's caller cache within its TTL, not at once.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 15s) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// A short TTL, so that the tests of changes made by the CLI do not wait the default 5 s.
constexpr const char* kShortCacheTtl = "auth:\n  session_cache:\n    ttl: 1s\n";

// The sessions listed by GET /api/me/sessions.
boost::json::array sessions_of(Browser& b) {
  auto r = b.get("/api/me/sessions");
  BOOST_REQUIRE(r.has_value());
  BOOST_REQUIRE_EQUAL(r->status, 200);
  return boost::json::parse(r->body).at("sessions").as_array();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auth)

BOOST_AUTO_TEST_CASE(login_cookie_me_logout) {
  Gateway gw;
  Browser b(gw);
  BOOST_TEST(b.get("/api/me")->status == 401);
  auto r = b.login("marie", "correct+horse+battery");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 303);
  BOOST_TEST(r->headers["location"] == "/api/me");
  const std::string set_cookie = r->headers["set-cookie"];
  BOOST_TEST(set_cookie.rfind("__Host-passerelle=", 0) == 0u);
  for (const char* attribute : {"; Path=/", "; Secure", "; HttpOnly", "; SameSite=Lax"})
    BOOST_TEST(set_cookie.find(attribute) != std::string::npos, attribute);
  auto me = b.get("/api/me");
  BOOST_TEST(me->status == 200);
  auto body = boost::json::parse(me->body);
  BOOST_TEST(body.at("display_name").as_string() == "Marie Dupont");
  BOOST_TEST(body.at("roles").at(0).as_string() == "elu");
  BOOST_TEST(body.at("commune_insee").as_string() == "49007");
  BOOST_TEST(body.at("provider").as_string() == "local");

  r = b.post("/auth/logout", "");
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->headers["set-cookie"].find("Max-Age=0") != std::string::npos);
  BOOST_TEST(b.get("/api/me")->status == 401);  // the old cookie is dead on the server
  BOOST_TEST(gw.wait_for_log("\"msg\":\"logout\""));
  BOOST_TEST(gw.log().find("correct") == std::string::npos);  // no password in the log
}

BOOST_AUTO_TEST_CASE(json_login_and_wrong_password) {
  Gateway gw;
  TestConnection c(gw.https_port());
  const std::vector<std::pair<std::string, std::string>> h{{"Origin", gw.origin()}};
  auto r =
      c.request("POST", "/auth/login", R"({"username":"marie","password":"wrong password!"})", h);
  BOOST_TEST(r->status == 401);
  BOOST_TEST(r->body.find("\"code\":\"invalid_credentials\"") != std::string::npos);
  BOOST_TEST(!r->headers.count("set-cookie"));
  r = c.request("POST", "/auth/login", R"({"username":"nobody","password":"wrong password!"})", h);
  BOOST_TEST(r->status == 401);
  r = c.request("POST", "/auth/login",
                std::string(R"({"username":"marie","password":")") + kPassword + "\"}", h);
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->headers.count("set-cookie") == 1u);
  BOOST_TEST(gw.wait_for_log("\"msg\":\"login failed\""));
}

BOOST_AUTO_TEST_CASE(no_open_redirect_after_login) {
  Gateway gw;
  for (const char* next : {"//evil.example/x", "https://evil.example/", "/\\evil.example"}) {
    Browser b(gw);
    auto r = b.login("marie", "correct+horse+battery", next);
    BOOST_TEST(r->status == 303);
    BOOST_TEST(r->headers["location"] == "/", next);
  }
}

BOOST_AUTO_TEST_CASE(csrf_is_required_for_state_changes_by_cookie) {
  Gateway gw;
  Browser b(gw);
  b.login("olga", "correct+horse+battery");
  auto r = b.post("/api/hello/items", R"({"name":"Angers"})", false);
  BOOST_TEST(r->status == 403);
  BOOST_TEST(r->body.find("\"code\":\"csrf_failed\"") != std::string::npos);
  r = b.post("/api/hello/items", R"({"name":"Angers"})", true, "https://evil.example");
  BOOST_TEST(r->status == 403);
  r = b.post("/auth/logout", "", false);
  BOOST_TEST(r->status == 403);
  r = b.post("/api/hello/items", R"({"name":"Angers"})");
  BOOST_TEST(r->status == 201);
  // A login form posted from another site is refused too (login CSRF).
  TestConnection c(gw.https_port());
  r = c.request(
      "POST", "/auth/login", "username=olga&password=x",
      {{"Content-Type", "application/x-www-form-urlencoded"}, {"Origin", "https://evil.example"}});
  BOOST_TEST(r->status == 403);
}

BOOST_AUTO_TEST_CASE(roles_are_enforced_before_the_plugin) {
  Gateway gw;
  Browser elu(gw);
  elu.login("marie", "correct+horse+battery");
  auto r = elu.post("/api/hello/items", R"({"name":"Angers"})");
  BOOST_TEST(r->status == 403);
  BOOST_TEST(r->body.find("\"code\":\"forbidden\"") != std::string::npos);
  BOOST_TEST(elu.get("/api/hello/me")->status == 200);
  BOOST_TEST(elu.get("/metrics")->status == 403);
  TestConnection anonymous(gw.https_port());
  BOOST_TEST(anonymous.request("GET", "/api/hello/me")->status == 401);
}

BOOST_AUTO_TEST_CASE(a_user_lists_ends_and_logs_out_all_their_sessions) {
  Gateway gw("demo: true\n");
  BOOST_TEST_REQUIRE(gw.wait_for_log("demo accounts are active"));
  Browser laptop(gw), phone(gw), other(gw);
  BOOST_TEST_REQUIRE(laptop.login("elu.angers", "passerelle-demo")->status == 303);
  BOOST_TEST_REQUIRE(phone.login("elu.angers", "passerelle-demo")->status == 303);
  BOOST_TEST_REQUIRE(other.login("marie", "correct+horse+battery")->status == 303);

  auto list = sessions_of(laptop);
  BOOST_TEST_REQUIRE(list.size() == 2u);
  std::string phone_id;
  int current = 0;
  for (const auto& v : list) {
    const auto& s = v.as_object();
    BOOST_TEST(s.at("id").as_string().size() == 16u);
    BOOST_TEST(s.at("provider").as_string() == "local");
    BOOST_TEST(s.at("created_at").as_int64() > 0);
    BOOST_TEST(s.at("last_seen").as_int64() > 0);
    if (s.at("current").as_bool())
      ++current;
    else
      phone_id = std::string(s.at("id").as_string());
  }
  BOOST_TEST(current == 1);
  BOOST_TEST_REQUIRE(phone_id.size() == 16u);
  // No secret of any session in the answer.
  const std::string body = laptop.get("/api/me/sessions")->body;
  for (const auto* b : {&laptop, &phone}) {
    const std::string value = b->cookie.substr(b->cookie.find('=') + 1);
    BOOST_TEST(body.find(value) == std::string::npos);
    BOOST_TEST(body.find(b->csrf) == std::string::npos);
  }

  // Another user cannot end it, nor learn that it exists; CSRF is required.
  BOOST_TEST(other.del("/api/me/sessions/" + phone_id)->status == 404);
  BOOST_TEST(laptop.del("/api/me/sessions/" + phone_id, false)->status == 403);
  BOOST_TEST(phone.get("/api/me")->status == 200);
  BOOST_TEST(laptop.del("/api/me/sessions/0123456789abcdef")->status == 404);
  BOOST_TEST(laptop.del("/api/me/sessions/" + phone_id)->status == 200);
  BOOST_TEST(phone.get("/api/me")->status == 401);
  BOOST_TEST(laptop.get("/api/me")->status == 200);
  BOOST_TEST(sessions_of(laptop).size() == 1u);
  BOOST_TEST(gw.wait_for_log("\"msg\":\"session ended\""));

  // Log out everywhere: CSRF required, then every session of the user ends, others stay.
  BOOST_TEST_REQUIRE(phone.login("elu.angers", "passerelle-demo")->status == 303);
  auto r = laptop.post("/auth/logout-everywhere", "", false);
  BOOST_TEST(r->status == 403);
  BOOST_TEST(r->body.find("\"code\":\"csrf_failed\"") != std::string::npos);
  r = laptop.post("/auth/logout-everywhere", "");
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->headers["set-cookie"].find("Max-Age=0") != std::string::npos);
  BOOST_TEST(laptop.get("/api/me")->status == 401);
  BOOST_TEST(phone.get("/api/me")->status == 401);
  BOOST_TEST(other.get("/api/me")->status == 200);
  BOOST_TEST(gw.wait_for_log("\"msg\":\"logout everywhere\""));
}

BOOST_AUTO_TEST_CASE(failed_logins_are_throttled) {
  Gateway gw("auth:\n  max_failures_per_account: 3\n");
  Browser b(gw);
  for (int i = 0; i < 3; ++i) BOOST_TEST(b.login("marie", "wrong")->status == 401);
  auto r = b.login("marie", "correct+horse+battery");  // even the right password waits now
  BOOST_TEST(r->status == 429);
  BOOST_TEST(std::stoi(r->headers["retry-after"]) > 0);
  BOOST_TEST(b.login("olga", "correct+horse+battery")->status == 303);  // other accounts are not
}

BOOST_AUTO_TEST_CASE(operator_api_token) {
  Gateway gw(kShortCacheTtl);
  auto created = run_passerelle(
      {"--config", gw.config_path(), "tokens", "create", "--user", "olga", "--name", "ci"});
  BOOST_TEST_REQUIRE(created.exit_code == 0, created.output);
  const std::string token = created.output.substr(0, created.output.find('\n'));
  BOOST_TEST(token.rfind("pst_", 0) == 0u);
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/metrics", "", {{"Authorization", "Bearer " + token}});
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->body.find("passerelle_connections_total") != std::string::npos);
  // No CSRF with a bearer token: browsers do not send it on their own.
  r = c.request("POST", "/api/hello/items", R"({"name":"Saumur"})",
                {{"Authorization", "Bearer " + token}});
  BOOST_TEST(r->status == 201);
  BOOST_TEST(run_passerelle({"--config", gw.config_path(), "tokens", "revoke", "1"}).exit_code ==
             0);
  // Revoked by another process: refused within the cache's TTL.
  BOOST_TEST(eventually([&] {
    return c.request("GET", "/metrics", "", {{"Authorization", "Bearer " + token}})->status == 401;
  }));
  auto refused = run_passerelle(
      {"--config", gw.config_path(), "tokens", "create", "--user", "marie", "--name", "x"});
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(refused.output == "passerelle: API tokens are for operator accounts only\n");
}

BOOST_AUTO_TEST_CASE(disabling_an_account_ends_its_sessions) {
  Gateway gw(kShortCacheTtl);
  Browser b(gw);
  b.login("marie", "correct+horse+battery");
  BOOST_TEST(b.get("/api/me")->status == 200);
  BOOST_TEST(b.get("/api/me")->status == 200);  // known to the cache by now
  BOOST_TEST(
      run_passerelle({"--config", gw.config_path(), "users", "disable", "marie"}).exit_code == 0);
  // Disabled by another process: refused within the cache's TTL.
  BOOST_TEST(eventually([&] { return b.get("/api/me")->status == 401; }));
  Browser again(gw);
  BOOST_TEST(again.login("marie", "correct+horse+battery")->status == 401);
}

BOOST_AUTO_TEST_CASE(a_logout_or_a_closed_session_ends_at_once_despite_the_cache) {
  Gateway gw;  // the default TTL (5 s): only invalidation can pass these checks
  Browser laptop(gw), phone(gw), tablet(gw);
  for (auto* b : {&laptop, &phone, &tablet}) {
    BOOST_TEST_REQUIRE(b->login("marie", "correct+horse+battery")->status == 303);
    for (int i = 0; i < 3; ++i) BOOST_TEST_REQUIRE(b->get("/api/me")->status == 200);
  }
  auto list = sessions_of(laptop);
  std::string phone_id;
  for (const auto& v : list)
    if (!v.as_object().at("current").as_bool() && phone_id.empty())
      phone_id = std::string(v.as_object().at("id").as_string());
  // "Mes sessions": closing another session ends it on its very next request...
  BOOST_TEST_REQUIRE(laptop.del("/api/me/sessions/" + phone_id)->status == 200);
  const bool phone_ended = phone.get("/api/me")->status == 401;
  const bool tablet_ended = tablet.get("/api/me")->status == 401;
  BOOST_TEST(phone_ended != tablet_ended);  // one of the two, whichever phone_id named
  // ...and a logout ends the caller's own on the next one, on the same connection.
  BOOST_TEST_REQUIRE(laptop.post("/auth/logout", "")->status == 200);
  BOOST_TEST(laptop.get("/api/me")->status == 401);
  BOOST_TEST(laptop.get("/api/hello/me")->status == 401);
}

BOOST_AUTO_TEST_CASE(a_role_changed_by_the_cli_applies_within_the_cache_ttl) {
  Gateway gw(kShortCacheTtl);
  Browser b(gw);
  BOOST_TEST_REQUIRE(b.login("marie", "correct+horse+battery")->status == 303);
  BOOST_TEST(b.get("/metrics")->status == 403);
  BOOST_TEST(b.get("/metrics")->status == 403);  // answered from the cache
  auto r = run_passerelle({"--config", gw.config_path(), "users", "roles", "marie", "operator"});
  BOOST_TEST_REQUIRE(r.exit_code == 0, r.output);
  BOOST_TEST(eventually([&] { return b.get("/metrics")->status == 200; }));
  auto me = b.get("/api/me");
  BOOST_TEST_REQUIRE(me->status == 200);
  BOOST_TEST(boost::json::parse(me->body).at("roles").at(0).as_string() == "operator");
}

BOOST_AUTO_TEST_CASE(demo_accounts_are_seeded_in_demo_mode_and_refused_in_production) {
  TempDir dir;
  const std::string db = dir.path() + "/db.sqlite";
  {
    GatewayProcess demo("demo: true\n" + std::string("store:\n  sqlite: ") + db + "\n");
    BOOST_TEST(demo.wait_for_log("demo accounts are active"));
    TestConnection c(demo.https_port());
    auto r = c.request("POST", "/auth/login",
                       R"({"username":"elu.angers","password":"passerelle-demo"})",
                       {{"Origin", "https://localhost:" + std::to_string(demo.https_port())}});
    BOOST_TEST(r->status == 200);
    BOOST_TEST(demo.stop(SIGTERM) == 0);
  }
  const std::string production = dir.write(
      "prod.yaml", "tls:\n  certificate: " + test_certs().cert +
                       "\n  private_key: " + test_certs().key + "\nstore:\n  sqlite: " + db +
                       "\nserver:\n  https_port: 0\n  http_port: 0\n");
  auto r = run_passerelle({"--config", production});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("passerelle: the account elu.angers still has the demo password") !=
                 std::string::npos,
             r.output);
  auto refused = run_passerelle({"--config", production, "users", "passwd", "elu.angers"},
                                "passerelle-demo\n");
  BOOST_TEST(refused.output == "passerelle: the demo password is refused outside demo mode\n");
}

BOOST_AUTO_TEST_CASE(an_elu_sees_the_directorate_of_their_region) {
  // Territories imported into a store before the gateway starts on it, as tools/run does.
  TempDir dir;
  const std::string db = dir.path() + "/db.sqlite";
  const std::string setup = dir.write(
      "setup.yaml", "tls:\n  certificate: c\n  private_key: k\nstore:\n  sqlite: " + db + "\n");
  auto imported = run_passerelle({"--config", setup, "territories", "import",
                                  std::string(PASSERELLE_TEST_FIXTURES) + "/territories"});
  BOOST_TEST_REQUIRE(imported.exit_code == 0, imported.output);
  GatewayProcess gw("store:\n  sqlite: " + db +
                    "\nplugins:\n  - name: directorates\n    library: " + module("directorates") +
                    "\n    config:\n      data_file: " + PASSERELLE_TEST_FIXTURES +
                    "/directorates/directorates.yaml\n");
  auto added = run_passerelle({"--config", gw.config_path(), "users", "add", "marie", "--name",
                               "Marie Dupont", "--roles", "elu", "--commune", "49007"},
                              std::string(kPassword) + "\n");
  BOOST_TEST_REQUIRE(added.exit_code == 0, added.output);
  TestConnection c(gw.https_port());
  const std::string origin = "https://localhost:" + std::to_string(gw.https_port());
  auto r = c.request("POST", "/auth/login",
                     std::string(R"({"username":"marie","password":")") + kPassword + "\"}",
                     {{"Origin", origin}});
  BOOST_TEST_REQUIRE(r->status == 200);
  const std::string cookie = r->headers["set-cookie"].substr(0, r->headers["set-cookie"].find(';'));
  r = c.request("GET", "/api/directorates/mine", "", {{"Cookie", cookie}});
  BOOST_TEST(r->status == 200);
  BOOST_TEST(boost::json::parse(r->body).at("id").as_string() == "pays-de-la-loire");
  r = c.request("GET", "/api/territories/communes?q=angers", "");
  BOOST_TEST(boost::json::parse(r->body).at("communes").at(0).at("code").as_string() == "49007");
}

BOOST_AUTO_TEST_CASE(jwks_publishes_the_identity_token_key) {
  GatewayProcess gw;
  TestConnection c(gw.https_port());
  auto r = c.request("GET", "/.well-known/jwks.json");
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  auto keys = boost::json::parse(r->body).at("keys").as_array();
  BOOST_TEST_REQUIRE(keys.size() == 1u);
  BOOST_TEST(keys[0].at("kty").as_string() == "EC");
  BOOST_TEST(keys[0].at("crv").as_string() == "P-256");
  BOOST_TEST(keys[0].at("alg").as_string() == "ES256");
  BOOST_TEST(!keys[0].as_object().contains("d"));  // never the private part
}

BOOST_AUTO_TEST_CASE(an_attacker_elsewhere_cannot_lock_the_demo_elu_out) {
  GatewayProcess gw("demo: true\n");
  BOOST_TEST_REQUIRE(gw.wait_for_log("demo accounts are active"));
  const std::vector<std::pair<std::string, std::string>> h{
      {"Origin", "https://localhost:" + std::to_string(gw.https_port())}};
  const std::string wrong = R"({"username":"elu.angers","password":"a wrong guess"})";
  const std::string right = R"({"username":"elu.angers","password":"passerelle-demo"})";
  TestConnection attacker(gw.https_port());  // from 127.0.0.1
  int failed = 0;
  int throttled = 0;
  for (int i = 0; i < 50; ++i) {
    auto r = attacker.request("POST", "/auth/login", wrong, h);
    BOOST_TEST_REQUIRE(r.has_value());
    failed += r->status == 401;
    throttled += r->status == 429;
  }
  BOOST_TEST(failed == 5);  // auth.max_failures_per_account, for this network
  BOOST_TEST(throttled == 45);
  // The real user, from another address (all of 127/8 is loopback), logs in all the same.
  TestConnection::Options elsewhere;
  elsewhere.source_address = "127.0.0.2";
  TestConnection user(gw.https_port(), elsewhere);
  BOOST_TEST_REQUIRE(user.connected());
  auto r = user.request("POST", "/auth/login", right, h);
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->headers.count("set-cookie") == 1u);
  // The attacker's network stays throttled, even with the right password.
  r = attacker.request("POST", "/auth/login", right, h);
  BOOST_TEST(r->status == 429);
}

BOOST_AUTO_TEST_CASE(a_flood_of_logins_gets_503_instead_of_a_queue) {
  Gateway gw("auth:\n  max_pending_password_checks: 1\n  max_failures_per_address: 1000\n");
  const std::string origin = gw.origin();
  // Twelve logins sent at once: each Argon2id check takes tens of milliseconds, so with one
  // slot the ones that find it taken are answered 503 at once instead of waiting.
  std::vector<std::unique_ptr<TestConnection>> clients;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(std::make_unique<TestConnection>(gw.https_port()));
    BOOST_TEST_REQUIRE(clients.back()->connected());
  }
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const std::string body = R"({"username":"flood)" + std::to_string(i) + R"(","password":"x"})";
    clients[i]->send_raw(
        "POST /auth/login HTTP/1.1\r\nHost: localhost:" + std::to_string(gw.https_port()) +
        "\r\nOrigin: " + origin + "\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  int unauthorized = 0;
  int overloaded = 0;
  for (auto& c : clients) {
    auto r = c->read_reply();
    BOOST_TEST_REQUIRE(r.has_value());
    if (r->status == 503) {
      ++overloaded;
      BOOST_TEST(r->headers["retry-after"] == "1");
      BOOST_TEST(r->body.find("\"code\":\"overloaded\"") != std::string::npos);
    } else {
      BOOST_TEST(r->status == 401);
      ++unauthorized;
    }
  }
  BOOST_TEST(overloaded > 0);
  BOOST_TEST(unauthorized > 0);
  // Refused logins did not count as failures: the right password works at once.
  Browser b(gw);
  BOOST_TEST(b.login("marie", "correct+horse+battery")->status == 303);
}

BOOST_AUTO_TEST_CASE(secrets_are_sealed_with_a_key_outside_the_store) {
  TempDir dir;
  const std::string db = dir.path() + "/data/db.sqlite";
  const std::string key = dir.path() + "/data/secret.key";  // the default: next to the store
  {
    GatewayProcess gw("store:\n  sqlite: " + db + "\n");
    TestConnection c(gw.https_port());
    BOOST_TEST(c.request("GET", "/.well-known/jwks.json")->status == 200);
    BOOST_TEST(gw.stop(SIGTERM) == 0);
  }
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(key.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  {
    passerelle::SqliteStore store(db, 1);
    auto rows = run(store.query({"SELECT private_jwk FROM signing_keys", {}}));
    BOOST_TEST_REQUIRE(rows.rows.size() == 1u);
    const std::string stored = std::get<std::string>(rows.rows[0][0]);
    BOOST_TEST(stored.rfind("enc1:", 0) == 0u);
    for (const char* plain : {"\"d\"", "\"kty\"", "PRIVATE KEY"})
      BOOST_TEST(stored.find(plain) == std::string::npos);
  }
  auto config = [&](const std::string& name, const std::string& store) {
    return dir.write(
        name, "tls:\n  certificate: " + test_certs().cert + "\n  private_key: " + test_certs().key +
                  "\nstore:\n  sqlite: " + store + "\nserver:\n  https_port: 0\n  http_port: 0\n");
  };
  // The database copied alone: another key is made there, and it cannot open the signing key.
  std::filesystem::create_directories(dir.path() + "/copy");
  std::filesystem::copy_file(db, dir.path() + "/copy/db.sqlite");
  auto r = run_passerelle({"--config", config("copy.yaml", dir.path() + "/copy/db.sqlite")});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find(
                 "passerelle: the signing key in the store does not open with the secret key of " +
                 dir.path() + "/copy/secret.key") != std::string::npos,
             r.output);
  // A key file that is not a key.
  { std::ofstream(key, std::ios::trunc) << "not a key\n"; }
  r = run_passerelle({"--config", config("bad.yaml", db)});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.output.find("passerelle: secret key file " + key +
                           ": is not a key (expected 32 bytes in base64url, 43 characters)") !=
                 std::string::npos,
             r.output);
}

BOOST_AUTO_TEST_CASE(an_unreachable_provider_is_said_at_start_and_the_gateway_serves) {
  // Port 1 of loopback: nothing listens there.
  GatewayProcess gw(
      "auth:\n  oidc:\n    - name: down\n      issuer: http://127.0.0.1:1\n"
      "      client_id: passerelle\n      client_secret: s\n");
  BOOST_TEST(gw.wait_for_log("\"msg\":\"provider unavailable\""));
  BOOST_TEST(gw.log().find("\"provider\":\"down\"") != std::string::npos);
  TestConnection c(gw.https_port());
  BOOST_TEST(c.request("GET", "/healthz")->status == 200);
  auto r = c.request("GET", "/auth/oidc/down/start");
  BOOST_TEST(r->status == 502);
  BOOST_TEST(r->body.find("discovery failed") != std::string::npos, r->body);
  BOOST_TEST(gw.wait_for_log("\"msg\":\"login refused\""));
}

BOOST_AUTO_TEST_SUITE_END()
