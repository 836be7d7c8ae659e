// GET /api/admin/overview through the real binary: operators only (401 anonymous, 403 for the
// other roles), every plugin with its state and the failure of one that did not start, and the
// minute in progress counting the requests just made (no waiting for a minute to end). Also
// the per-route latency histogram of /metrics.
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <thread>

using namespace passerelle::test;
namespace json = boost::json;

namespace {

constexpr const char* kPassword = "correct horse battery";

// hello running, faulty refusing to start; an operator, an élu and an agent.
struct Gateway : GatewayProcess {
  Gateway()
      : GatewayProcess("plugins:\n  - name: hello\n    library: " + module("hello") +
                       "\n  - name: faulty\n    library: " + module("faulty") +
                       "\n    config:\n      fail_start: true\n" +
                       // Short: a role changed by the CLI (another process) is seen within it.
                       "auth:\n  session_cache:\n    ttl: 1s\n") {
    for (const char* role : {"operator", "elu", "agent"}) {
      auto r = run_passerelle({"--config", config_path(), "users", "add", role, "--name", role,
                               "--roles", role, "--commune", "49007"},
                              std::string(kPassword) + "\n");
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    }
    // The plugins start after the listeners open: "started with failed plugins" then.
    BOOST_REQUIRE(wait_for_log("started with failed plugins"));
  }
};

// A logged-in user's connection and cookie.
struct User {
  TestConnection c;
  std::string cookie;

  User(const Gateway& gw, const std::string& name) : c(gw.https_port()) {
    const std::string origin = "https://localhost:" + std::to_string(gw.https_port());
    auto r =
        c.request("POST", "/auth/login", "username=" + name + "&password=correct+horse+battery",
                  {{"Content-Type", "application/x-www-form-urlencoded"}, {"Origin", origin}});
    BOOST_REQUIRE(r.has_value());
    BOOST_REQUIRE_MESSAGE(r->headers.count("set-cookie"), "login of " + name);
    cookie = r->headers["set-cookie"].substr(0, r->headers["set-cookie"].find(';'));
  }
  std::optional<HttpReply> get(const std::string& target) {
    return c.request("GET", target, "", {{"Cookie", cookie}});
  }
};

// Polls until `done` holds, for at most 15 s: the admin CLI's changes reach the gateway's
// caller cache within its TTL.
bool eventually(const std::function<bool()>& done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

const json::object* plugin_named(const json::value& body, const std::string& name) {
  for (const auto& p : body.at("plugins").as_array())
    if (p.at("name").as_string() == name) return &p.as_object();
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(overview)

BOOST_AUTO_TEST_CASE(only_operators_see_the_overview) {
  Gateway gw;
  TestConnection anonymous(gw.https_port());
  auto r = anonymous.request("GET", "/api/admin/overview");
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 401);
  for (const char* role : {"elu", "agent"}) {
    User user(gw, role);
    r = user.get("/api/admin/overview");
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->status == 403, role);
    BOOST_TEST(json::parse(r->body).at("error").at("code").as_string() == "forbidden");
  }
  User op(gw, "operator");
  r = op.get("/api/admin/overview");
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 200);
  BOOST_TEST(r->headers["content-type"].find("application/json") == 0u);
}

// A bearer token carries its account's roles as they are now, not as they were when it was
// made: the token of an operator who is one no more is refused too.
BOOST_AUTO_TEST_CASE(an_api_token_sees_the_overview_only_while_its_account_is_an_operator) {
  Gateway gw;
  auto created = run_passerelle(
      {"--config", gw.config_path(), "tokens", "create", "--user", "operator", "--name", "ci"});
  BOOST_TEST_REQUIRE(created.exit_code == 0, created.output);
  const std::string token = created.output.substr(0, created.output.find('\n'));
  TestConnection c(gw.https_port());
  auto overview = [&] {
    auto r = c.request("GET", "/api/admin/overview", "", {{"Authorization", "Bearer " + token}});
    BOOST_REQUIRE(r.has_value());
    return r->status;
  };
  BOOST_TEST(overview() == 200);
  BOOST_TEST(overview() == 200);  // known to the cache by now
  auto demoted =
      run_passerelle({"--config", gw.config_path(), "users", "roles", "operator", "elu"});
  BOOST_TEST_REQUIRE(demoted.exit_code == 0, demoted.output);
  BOOST_TEST(eventually([&] { return overview() == 403; }));
  BOOST_TEST(overview() == 403);
}

BOOST_AUTO_TEST_CASE(plugins_with_state_and_the_minute_in_progress) {
  Gateway gw;
  User op(gw, "operator");
  TestConnection client(gw.https_port());
  for (int i = 0; i < 5; ++i) {
    auto r = client.request("GET", "/api/hello");
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->status == 200);
  }
  for (int i = 0; i < 3; ++i) {  // the plugin that failed to start answers 503 on its paths
    auto r = client.request("GET", "/api/faulty/ok");
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->status == 503);
  }

  auto r = op.get("/api/admin/overview");
  BOOST_REQUIRE(r.has_value());
  BOOST_REQUIRE_EQUAL(r->status, 200);
  const json::value body = json::parse(r->body);
  const std::int64_t now = body.at("now").as_int64();

  const json::object* hello = plugin_named(body, "hello");
  BOOST_REQUIRE(hello != nullptr);
  BOOST_TEST(hello->at("state").as_string() == "running");
  BOOST_TEST(hello->at("version").as_string() != "");
  const std::int64_t loaded_at = hello->at("loaded_at").as_int64();
  BOOST_TEST(loaded_at > 0);
  BOOST_TEST(loaded_at <= now);
  BOOST_TEST(!hello->contains("failure"));
  const auto& history = hello->at("history").as_array();
  BOOST_REQUIRE_EQUAL(history.size(), 60u);
  const auto& current = history.back().as_object();
  BOOST_TEST(current.at("minute").as_int64() == now - now % 60);
  BOOST_TEST(history.front().at("minute").as_int64() == now - now % 60 - 59 * 60);
  // The requests just made are in the minute in progress, or in the one before if the minute
  // turned meanwhile (the clock is the gateway's): the last two points hold them all.
  const auto& before = history[58].as_object();
  BOOST_TEST(current.at("requests").as_int64() + before.at("requests").as_int64() == 5);
  const auto& counted = current.at("requests").as_int64() > 0 ? current : before;
  BOOST_TEST(counted.at("errors").as_int64() == 0);
  BOOST_TEST(counted.at("error_rate").as_double() == 0.0);
  BOOST_TEST_REQUIRE(counted.at("p99_ms").is_double());
  BOOST_TEST(counted.at("p99_ms").as_double() > 0.0);
  std::int64_t hello_requests = 0;
  for (const auto& p : history) hello_requests += p.at("requests").as_int64();
  BOOST_TEST(hello_requests == 5);

  const json::object* faulty = plugin_named(body, "faulty");
  BOOST_REQUIRE(faulty != nullptr);
  BOOST_TEST(faulty->at("state").as_string() == "failed");
  BOOST_TEST(faulty->at("failure").as_string().find("start refused on purpose") !=
             std::string::npos);
  const auto& down = faulty->at("history").as_array();
  const auto& last = down[59].at("errors").as_int64() > 0 ? down[59] : down[58];
  BOOST_TEST(down[59].at("errors").as_int64() + down[58].at("errors").as_int64() == 3);
  BOOST_TEST(last.at("error_rate").as_double() == 1.0);  // its 503s: the plugin's, not the core's

  // The gateway's own routes: the logins and this overview at least.
  std::int64_t core_requests = 0;
  for (const auto& p : body.at("core").at("history").as_array())
    core_requests += p.at("requests").as_int64();
  BOOST_TEST(core_requests >= 1);

  // /metrics has a latency histogram per route.
  r = op.get("/metrics");
  BOOST_REQUIRE(r.has_value());
  BOOST_REQUIRE_EQUAL(r->status, 200);
  BOOST_TEST(
      r->body.find(R"(passerelle_http_request_duration_seconds_count{route="GET /api/hello"} 5)") !=
      std::string::npos);
  BOOST_TEST(
      r->body.find(R"(passerelle_http_requests_total{route="GET /api/hello",status="200"} 5)") !=
      std::string::npos);
  // By plugin, route and status class; and what each route serves now (the /metrics request
  // itself, on the gateway's own route).
  BOOST_TEST(r->body.find(R"(passerelle_http_requests_by_class_total{plugin="hello",)"
                          R"(route="GET /api/hello",class="2xx"} 5)") != std::string::npos,
             r->body);
  BOOST_TEST(r->body.find(R"(passerelle_http_requests_in_flight{plugin="hello",)"
                          R"(route="GET /api/hello"} 0)") != std::string::npos);
  BOOST_TEST(r->body.find(R"(passerelle_http_requests_in_flight{route="GET /metrics"} 1)") !=
             std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
