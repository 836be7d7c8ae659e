// Dispatch through a real plugin library: errors, deadlines, roles, media types, core routes.
#include "support/app_fixture.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace passerelle::test;

namespace {
struct Faulty : AppFixture {
  Faulty() {
    start("  - name: faulty\n    library: " + module("faulty") +
          "\n    timeout: 2s\n    route_timeouts:\n      GET /api/faulty/hang: 100ms\n");
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(dispatcher)

BOOST_FIXTURE_TEST_CASE(core_endpoints, Faulty) {
  Response r = call("GET", "/healthz");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"status":"ok"})");
  r = call("GET", "/readyz");
  BOOST_TEST(r.status == 200);
  r = call("GET", "/api/plugins");
  BOOST_TEST(json(r).at("plugins").at(0).at("name").as_string() == "faulty");
  BOOST_TEST(json(r).at("plugins").at(0).at("state").as_string() == "running");
}

BOOST_FIXTURE_TEST_CASE(a_throwing_handler_is_a_500_without_internal_detail, Faulty) {
  Response r = call("GET", "/api/faulty/throw");
  BOOST_TEST(r.status == 500);
  BOOST_TEST(error_code(r) == "plugin_error");
  BOOST_TEST(json(r).at("error").at("request_id").as_string() == "test-request");
  BOOST_TEST(r.body.find("secret internal detail") == std::string::npos);
  BOOST_TEST(call("GET", "/api/faulty/ok").status == 200);
}

BOOST_FIXTURE_TEST_CASE(an_http_error_keeps_its_status_and_code, Faulty) {
  Response r = call("GET", "/api/faulty/http-error");
  BOOST_TEST(r.status == 418);
  BOOST_TEST(error_code(r) == "teapot");
  BOOST_TEST(json(r).at("error").at("message").as_string() == "I am a teapot");
}

BOOST_FIXTURE_TEST_CASE(a_hanging_handler_is_a_504_at_its_route_deadline, Faulty) {
  Response r = call("GET", "/api/faulty/hang");
  BOOST_TEST(r.status == 504);
  BOOST_TEST(error_code(r) == "plugin_timeout");
  BOOST_TEST(call("GET", "/api/faulty/slow?ms=10").status == 200);
  // The cancelled handler has ended: nothing of the plugin is in flight any more.
  BOOST_TEST(host.table()->plugins.at(0)->in_flight.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(roles_are_checked_before_the_plugin_runs, Faulty) {
  Response r = call("GET", "/api/faulty/elu-only");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(error_code(r) == "unauthenticated");
  identity = make_identity({"agent"});
  r = call("GET", "/api/faulty/elu-only");
  BOOST_TEST(r.status == 403);
  BOOST_TEST(error_code(r) == "forbidden");
  identity = make_identity({"elu"});
  BOOST_TEST(call("GET", "/api/faulty/elu-only").status == 200);
}

BOOST_FIXTURE_TEST_CASE(not_found_and_method_not_allowed, Faulty) {
  Response r = call("GET", "/api/faulty/nothing");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(error_code(r) == "not_found");
  r = call("POST", "/api/faulty/ok", "{}");
  BOOST_TEST(r.status == 405);
  auto allow = std::find_if(r.headers.begin(), r.headers.end(), [](auto& h) { return h.first == "Allow"; });
  BOOST_TEST_REQUIRE((allow != r.headers.end()));
  BOOST_TEST(allow->second == "GET");
  BOOST_TEST(call("GET", "not-a-path").status == 400);
}

BOOST_AUTO_TEST_CASE(a_body_of_another_media_type_is_a_415) {
  AppFixture app;
  app.start("  - name: hello\n    library: " + module("hello") + "\n");
  Response r = app.call("POST", "/api/hello/echo", "a=1", "application/x-www-form-urlencoded");
  BOOST_TEST(r.status == 415);
  BOOST_TEST(AppFixture::error_code(r) == "unsupported_media_type");
  r = app.call("POST", "/api/hello/echo", R"({"a":1})", "application/json; charset=utf-8");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"echo":{"a":1}})");
}

BOOST_AUTO_TEST_CASE(a_plugin_that_fails_to_start_costs_only_its_own_routes) {
  AppFixture app;
  app.start("  - name: faulty\n    library: " + module("faulty") + "\n    config:\n      fail_start: true\n"
            "  - name: hello\n    library: " + module("hello") + "\n");
  Response r = app.call("GET", "/api/faulty/ok");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(AppFixture::error_code(r) == "plugin_unavailable");
  BOOST_TEST(app.call("GET", "/api/hello").status == 200);
  r = app.call("GET", "/readyz");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(AppFixture::json(r).at("plugins").at(0).at("state").as_string() == "failed");
}

BOOST_AUTO_TEST_CASE(dashboard_gathers_widgets_and_survives_a_bad_one) {
  AppFixture app;
  app.start("  - name: hello\n    library: " + module("hello") + "\n  - name: faulty\n    library: " + module("faulty") + "\n");
  BOOST_TEST(app.call("GET", "/api/dashboard").status == 401);
  app.identity = make_identity({"elu"});
  auto body = AppFixture::json(app.call("GET", "/api/dashboard"));
  BOOST_TEST_REQUIRE(body.at("widgets").as_array().size() == 1u);  // faulty shows nothing to élus
  BOOST_TEST(body.at("widgets").at(0).at("plugin").as_string() == "hello");
  for (const char* role : {"agent", "advisor"}) {  // throws, hangs
    app.identity = make_identity({role});
    body = AppFixture::json(app.call("GET", "/api/dashboard"));
    BOOST_TEST_REQUIRE(body.at("widgets").as_array().size() == 2u, role);
    BOOST_TEST(body.at("widgets").at(0).at("widget").at("text").as_string() == "Bonjour, Marie Dupont");
    BOOST_TEST(body.at("widgets").at(1).at("plugin").as_string() == "faulty");
    BOOST_TEST(body.at("widgets").at(1).at("unavailable").as_bool());
  }
}

BOOST_AUTO_TEST_SUITE_END()
