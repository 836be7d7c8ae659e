// Dispatch through a real plugin library and the gateway's own routes, declared alike:
// errors, deadlines, roles, CSRF, media types, HEAD, the one query parser, metrics; callers
// known in memory.
#include "auth/auth_routes.hpp"
#include "auth/auth_service.hpp"
#include "http/form.hpp"
#include "http/responses.hpp"
#include "store/core_schema.hpp"
#include "store/store_error.hpp"
#include "support/app_fixture.hpp"
#include "territories/territory_routes.hpp"
#include "util/blocking_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <stdexcept>

using namespace passerelle;
using namespace passerelle::test;

namespace {
struct Faulty : AppFixture {
  Faulty() {
    start("  - name: faulty\n    library: " + module("faulty") +
          "\n    timeout: 2s\n    route_timeouts:\n      GET /api/faulty/hang: 100ms\n");
  }
};

// What the faulty plugin's immediate routes answer: theirs, an HttpError as such, any other
// exception a 500 that keeps its detail in the log; the errors with the request's id.
void check_immediate_answers(Faulty& app) {
  Response r = app.call("GET", "/api/faulty/now/ok");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"ok":true})");
  r = app.call("GET", "/api/faulty/now/http-error");
  BOOST_TEST(r.status == 418);
  BOOST_TEST(Faulty::error_code(r) == "teapot");
  BOOST_TEST(Faulty::json(r).at("error").at("request_id").as_string() == "test-request");
  r = app.call("GET", "/api/faulty/now/throw");
  BOOST_TEST(r.status == 500);
  BOOST_TEST(Faulty::error_code(r) == "plugin_error");
  BOOST_TEST(Faulty::json(r).at("error").at("request_id").as_string() == "test-request");
  BOOST_TEST(r.body.find("secret internal detail") == std::string::npos);
}

// The gateway's own routes behind a dispatcher whose caller the test chooses, authenticated as
// a session cookie (CSRF applies) or a bearer token would be.
using Headers = std::vector<std::pair<std::string, std::string>>;
const Headers kSameOrigin{{"host", "gw.example"}, {"origin", "https://gw.example"}};
constexpr const char* kCsrfToken = "the-session-csrf-token";

Headers with(Headers headers, std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return headers;
}

AuthConfig test_auth_config(const std::string& dir) {
  AuthConfig config;
  config.secret_key_file = dir + "/secret.key";
  return config;
}

struct CoreApp : AppFixture {
  BlockingPool pool{1};
  AuthService auth{store, pool, test_auth_config(dir.path()), false};
  std::optional<AuthContext> caller;
  int lookups = 0;           // how many times the dispatcher asked who is calling
  bool slow_lookup = false;  // the caller's lookup waits 2 s (a busy store) unless cancelled
  bool hang_ended = false;
  bool hang_cancelled = false;
  Dispatcher core{host, metrics,
                  [this](const IncomingRequest&) -> Task<std::optional<AuthContext>> {
                    ++lookups;
                    if (slow_lookup) {
                      boost::asio::steady_timer busy(co_await boost::asio::this_coro::executor,
                                                     std::chrono::seconds(2));
                      co_await busy.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
                    }
                    co_return caller;
                  },
                  core_routes(), std::chrono::milliseconds(100)};

  CoreApp() { run(store.migrate("core", core_migrations())); }

  // Waits `how_long` unless cancelled first.
  Task<Response> sleep(std::chrono::milliseconds how_long) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, how_long);
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    hang_ended = true;
    hang_cancelled = ec == boost::asio::error::operation_aborted;
    co_return Response::text("woke up");
  }

  std::vector<CoreRoute> core_routes() {
    auto routes = status_routes(host, metrics);
    auto login = auth_routes(auth, nullptr, {{"test", "Test provider"}});
    // Logging in and out write to the store (PostgreSQL in the .postgresql run): a deadline a
    // loaded machine meets, not the 100 ms the deadline cases below are about.
    for (auto& route : login)
      if (route.spec.method == "POST") route.spec.deadline = std::chrono::seconds(5);
    routes.insert(routes.end(), login.begin(), login.end());
    auto places = territory_routes([this]() -> const Territories& { return territories; });
    routes.insert(routes.end(), places.begin(), places.end());
    // No deadline declared: the dispatcher's default (100 ms here) applies.
    routes.push_back({{.method = "GET", .path = "/test/hang"},
                      [this](CoreRequest) { return sleep(std::chrono::seconds(10)); }});
    // A declared deadline longer than the default wins over it.
    routes.push_back({{.method = "GET", .path = "/test/slow", .deadline = std::chrono::seconds(10)},
                      [this](CoreRequest) { return sleep(std::chrono::milliseconds(300)); }});
    routes.push_back({{.method = "GET", .path = "/test/throw"}, [](CoreRequest) -> Task<Response> {
                        throw std::runtime_error("secret internal detail");
                        co_return Response{};
                      }});
    routes.push_back(
        {{.method = "GET", .path = "/test/busy"}, [](CoreRequest) -> Task<Response> {
           throw HttpErrorWithHeaders(503, "busy", "try again soon", {{"Retry-After", "2"}});
           co_return Response{};
         }});
    // The database is down: the store says so, the dispatcher answers 503.
    routes.push_back({{.method = "GET", .path = "/test/store-down", .authenticate = false},
                      [](CoreRequest) -> Task<Response> {
                        throw StoreUnavailable("connection refused (127.0.0.1:5432)");
                        co_return Response{};
                      }});
    // A careless handler: copies the query into a header, a header name and the media type.
    routes.push_back({{.method = "GET", .path = "/test/echo", .authenticate = false},
                      [](CoreRequest req) -> Task<Response> {
                        Response r = Response::text("echo");
                        r.headers.emplace_back("X-Echo", req.query["v"]);
                        if (req.query.count("name")) r.headers.emplace_back(req.query["name"], "1");
                        if (req.query.count("type")) r.content_type = req.query["type"];
                        if (req.query.count("status")) r.status = std::stoi(req.query["status"]);
                        co_return r;
                      }});
    return routes;
  }

  Response send(const std::string& method, const std::string& target, Headers headers = {},
                std::string body = "") {
    IncomingRequest in;
    in.method = method;
    in.target = target;
    in.headers = std::move(headers);
    in.body = std::move(body);
    in.remote = "192.0.2.1";
    in.request_id = "core-request";
    return run(core.handle(std::move(in)));
  }

  // As the session cookie authenticates: CSRF applies.
  void as_cookie(std::vector<std::string> roles) {
    AuthContext ctx;
    ctx.identity = make_identity(std::move(roles));
    ctx.via_cookie = true;
    ctx.session_cookie = "cookie-value";
    SessionRecord session;
    session.user_id = 1;
    session.provider = "local";
    session.csrf_token = kCsrfToken;
    ctx.session = std::make_shared<const SessionRecord>(session);
    caller = ctx;
  }
  // As an API token authenticates: no CSRF, no session.
  void as_bearer(std::vector<std::string> roles) {
    AuthContext ctx;
    ctx.identity = make_identity(std::move(roles));
    caller = ctx;
  }

  static std::string header(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return {};
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
  auto allow =
      std::find_if(r.headers.begin(), r.headers.end(), [](auto& h) { return h.first == "Allow"; });
  BOOST_TEST_REQUIRE((allow != r.headers.end()));
  BOOST_TEST(allow->second == "GET, HEAD");
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
  app.start("  - name: faulty\n    library: " + module("faulty") +
            "\n    config:\n      fail_start: true\n"
            "  - name: hello\n    library: " +
            module("hello") + "\n");
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
  app.start("  - name: hello\n    library: " + module("hello") +
            "\n  - name: faulty\n    library: " + module("faulty") + "\n");
  BOOST_TEST(app.call("GET", "/api/dashboard").status == 401);
  app.identity = make_identity({"elu"});
  auto body = AppFixture::json(app.call("GET", "/api/dashboard"));
  BOOST_TEST_REQUIRE(body.at("widgets").as_array().size() == 1u);  // faulty shows nothing to élus
  BOOST_TEST(body.at("widgets").at(0).at("plugin").as_string() == "hello");
  for (const char* role : {"agent", "advisor"}) {  // throws, hangs
    app.identity = make_identity({role});
    body = AppFixture::json(app.call("GET", "/api/dashboard"));
    BOOST_TEST_REQUIRE(body.at("widgets").as_array().size() == 2u, role);
    BOOST_TEST(body.at("widgets").at(0).at("widget").at("text").as_string() ==
               "Bonjour, Marie Dupont");
    BOOST_TEST(body.at("widgets").at(1).at("plugin").as_string() == "faulty");
    BOOST_TEST(body.at("widgets").at(1).at("unavailable").as_bool());
  }
}

// A widget declared immediate is called inline: one that throws is shown unavailable like the
// others, and the page still has the rest.
BOOST_AUTO_TEST_CASE(dashboard_calls_an_immediate_widget_inline_and_survives_it) {
  AppFixture app;
  app.start("  - name: hello\n    library: " + module("hello") +
            "\n  - name: faulty\n    library: " + module("faulty") +
            "\n    config:\n      immediate_widget: true\n");
  app.identity = make_identity({"elu"});
  auto body = AppFixture::json(app.call("GET", "/api/dashboard"));
  BOOST_TEST_REQUIRE(body.at("widgets").as_array().size() == 1u);
  BOOST_TEST(body.at("widgets").at(0).at("plugin").as_string() == "hello");
  app.identity = make_identity({"agent"});
  body = AppFixture::json(app.call("GET", "/api/dashboard"));
  BOOST_TEST_REQUIRE(body.at("widgets").as_array().size() == 2u);
  BOOST_TEST(body.at("widgets").at(0).at("widget").at("text").as_string() ==
             "Bonjour, Marie Dupont");
  BOOST_TEST(body.at("widgets").at(1).at("plugin").as_string() == "faulty");
  BOOST_TEST(body.at("widgets").at(1).at("unavailable").as_bool());
  // One that says it never waits and waits all the same: the page's deadline still ends it.
  app.identity = make_identity({"advisor"});
  const Response r = app.call("GET", "/api/dashboard");
  BOOST_TEST(r.status == 504);
  BOOST_TEST(AppFixture::error_code(r) == "timeout");
}

// A route declared immediate gets what every plugin route gets: roles checked before it runs,
// an HttpError answered as such, any other exception a 500 that keeps its detail in the log.
BOOST_FIXTURE_TEST_CASE(immediate_plugin_routes_are_guarded_like_the_others, Faulty) {
  check_immediate_answers(*this);
  identity = std::nullopt;
  BOOST_TEST(call("GET", "/api/faulty/now/elu-only").status == 401);
  identity = make_identity({"agent"});
  BOOST_TEST(call("GET", "/api/faulty/now/elu-only").status == 403);
  identity = make_identity({"elu"});
  BOOST_TEST(call("GET", "/api/faulty/now/elu-only").status == 200);
}

// The same with the caller known in memory, as the server's dispatcher knows most: start()
// makes the handler's coroutine at once and hands back its answer with what finish() would have
// done after it (an error's answer, the request id, the route's counters), without finish().
BOOST_FIXTURE_TEST_CASE(a_known_caller_reaches_an_immediate_plugin_route_without_finish, Faulty) {
  int asked = 0;
  dispatcher.set_authenticate_now(
      [&](const IncomingRequest&,
          const boost::asio::any_io_executor&) -> std::optional<std::optional<AuthContext>> {
        ++asked;
        if (!identity) return std::optional<AuthContext>();
        AuthContext ctx;
        ctx.identity = *identity;
        return ctx;
      });
  identity = make_identity({"agent"});
  check_immediate_answers(*this);
  BOOST_TEST(call("GET", "/api/faulty/now/elu-only").status == 403);
  identity = std::nullopt;
  BOOST_TEST(call("GET", "/api/faulty/now/elu-only").status == 401);
  BOOST_TEST(asked == 5);
  // Counted on their routes, and no longer in flight.
  for (const auto& [label, status] :
       {std::pair{"GET /api/faulty/now/ok", 200}, std::pair{"GET /api/faulty/now/http-error", 418},
        std::pair{"GET /api/faulty/now/throw", 500}}) {
    const RouteStats& stats = metrics.route("faulty", label);
    BOOST_TEST(stats.answered(status) == 1u, label);
    BOOST_TEST(stats.in_flight() == 0, label);
  }
}

BOOST_FIXTURE_TEST_CASE(metrics_roles_are_checked_by_the_dispatcher, CoreApp) {
  Response r = send("GET", "/metrics");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(error_code(r) == "unauthenticated");
  as_cookie({"elu"});
  r = send("GET", "/metrics");
  BOOST_TEST(r.status == 403);
  BOOST_TEST(error_code(r) == "forbidden");
  as_bearer({"operator"});
  r = send("GET", "/metrics");
  BOOST_TEST(r.status == 200);
  // Every answer is counted once, by route template and status.
  for (const char* line :
       {R"(passerelle_http_requests_total{route="GET /metrics",status="401"} 1)",
        R"(passerelle_http_requests_total{route="GET /metrics",status="403"} 1)"})
    BOOST_TEST(r.body.find(line) != std::string::npos, line);
}

BOOST_FIXTURE_TEST_CASE(random_paths_and_methods_add_no_metric_series, CoreApp) {
  const auto series = [this] {
    const std::string text = metrics.render();
    std::size_t n = 0;
    for (auto p = text.find("\npasserelle_http_requests_total{"); p != std::string::npos;
         p = text.find("\npasserelle_http_requests_total{", p + 1))
      ++n;
    return n;
  };
  send("GET", "/api/territories/communes/00000");
  send("GET", "/no/such/path");
  const std::size_t before = series();
  for (int i = 0; i < 50; ++i) {
    const std::string x = "r" + std::to_string(i);
    send("GET", "/api/territories/communes/" + x);  // one route, whatever the code
    send("GET", "/no/such/" + x);
    send("X" + x, "/" + x);
    send("GET", "/%2e%2e/" + x);
  }
  BOOST_TEST(series() - before <= 2u);  // at most 405 and 400 of "unmatched" are new
  BOOST_TEST(metrics.render().find("r49") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(api_me_needs_a_login, CoreApp) {
  Response r = send("GET", "/api/me");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(error_code(r) == "unauthenticated");
  as_cookie({"agent"});
  r = send("GET", "/api/me");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("csrf_token").as_string() == kCsrfToken);
  BOOST_TEST(json(r).at("roles").at(0).as_string() == "agent");
}

BOOST_FIXTURE_TEST_CASE(logout_needs_the_session_csrf_token, CoreApp) {
  as_cookie({"elu"});
  for (const Headers& refused :
       {kSameOrigin, with(kSameOrigin, "x-csrf-token", "wrong"),
        Headers{{"host", "gw.example"},
                {"origin", "https://evil.example"},
                {"x-csrf-token", kCsrfToken}},
        Headers{{"sec-fetch-site", "cross-site"}, {"x-csrf-token", kCsrfToken}}}) {
    Response r = send("POST", "/auth/logout", refused);
    BOOST_TEST(r.status == 403);
    BOOST_TEST(error_code(r) == "csrf_failed");
  }
  Response r = send("POST", "/auth/logout", with(kSameOrigin, "x-csrf-token", kCsrfToken));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("logged_out").as_bool());
  BOOST_TEST(header(r, "Set-Cookie").find("Max-Age=0") != std::string::npos);
  // A plain HTML form sends the token as a field.
  r = send("POST", "/auth/logout",
           with(kSameOrigin, "content-type", "application/x-www-form-urlencoded"),
           std::string("csrf_token=") + kCsrfToken);
  BOOST_TEST(r.status == 200);
  // No session, nothing to end: anonymous, or an API token (which needs no CSRF token).
  caller.reset();
  BOOST_TEST(send("POST", "/auth/logout", kSameOrigin).status == 401);
  as_bearer({"operator"});
  r = send("POST", "/auth/logout");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(error_code(r) == "unauthenticated");
}

BOOST_FIXTURE_TEST_CASE(probes_and_the_login_form_never_look_up_a_session, CoreApp) {
  as_cookie({"operator"});
  BOOST_TEST(send("GET", "/healthz").status == 200);
  BOOST_TEST(send("HEAD", "/healthz").status == 200);
  BOOST_TEST(send("GET", "/readyz").status == 503);  // no plugin started in this fixture
  BOOST_TEST(send("GET", "/auth/login").status == 200);
  BOOST_TEST(send("GET", "/api/territories/communes/49007").status == 200);
  // Login CSRF: only our own pages may post the login form.
  const Headers form{{"content-type", "application/x-www-form-urlencoded"}};
  Headers cross = with(form, "origin", "https://evil.example");
  cross.emplace_back("host", "gw.example");
  Response r = send("POST", "/auth/login", cross, "username=marie&password=x");
  BOOST_TEST(r.status == 403);
  BOOST_TEST(error_code(r) == "csrf_failed");
  r = send("POST", "/auth/login", with(kSameOrigin, "content-type", "text/plain"), "marie");
  BOOST_TEST(r.status == 415);
  BOOST_TEST(error_code(r) == "unsupported_media_type");
  BOOST_TEST(lookups == 0);
  BOOST_TEST(send("GET", "/api/me").status == 200);
  BOOST_TEST(lookups == 1);
}

BOOST_FIXTURE_TEST_CASE(head_is_routed_as_get_and_405_lists_the_methods, CoreApp) {
  Response r = send("HEAD", "/healthz");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(send("HEAD", "/metrics").status == 401);  // the same checks as GET
  as_bearer({"operator"});
  BOOST_TEST(send("HEAD", "/metrics").status == 200);
  r = send("POST", "/healthz", kSameOrigin, "{}");
  BOOST_TEST(r.status == 405);
  BOOST_TEST(error_code(r) == "method_not_allowed");
  BOOST_TEST(header(r, "Allow") == "GET, HEAD");
  BOOST_TEST(header(send("DELETE", "/auth/login"), "Allow") == "GET, HEAD, POST");
  r = send("GET", "/auth/logout");
  BOOST_TEST(r.status == 405);
  BOOST_TEST(header(r, "Allow") == "POST");
  r = send("GET", "/api/territories/communes/49007/more");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(error_code(r) == "not_found");
}

BOOST_FIXTURE_TEST_CASE(head_reaches_a_plugin_get_route, Faulty) {
  BOOST_TEST(call("HEAD", "/api/faulty/ok").status == 200);
  BOOST_TEST(call("HEAD", "/api/faulty/elu-only").status == 401);
}

BOOST_FIXTURE_TEST_CASE(a_hanging_core_handler_is_a_504_at_its_deadline, CoreApp) {
  Response r = send("GET", "/test/hang");
  BOOST_TEST(r.status == 504);
  BOOST_TEST(error_code(r) == "timeout");
  // The handler was asked to stop, and stopped, instead of sleeping on.
  BOOST_TEST(hang_ended);
  BOOST_TEST(hang_cancelled);
  hang_ended = hang_cancelled = false;
  r = send("GET", "/test/slow");  // 300 ms, past the default deadline but within its own
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "woke up");
  BOOST_TEST(!hang_cancelled);
}

BOOST_FIXTURE_TEST_CASE(a_slow_caller_lookup_is_a_504_at_the_route_deadline, CoreApp) {
  as_bearer({"operator"});
  slow_lookup = true;
  const Response r = send("GET", "/api/me");  // the default deadline here: 100 ms
  BOOST_TEST(r.status == 504);
  BOOST_TEST(error_code(r) == "timeout");
  BOOST_TEST(lookups == 1);
  slow_lookup = false;
  BOOST_TEST(send("GET", "/api/me").status == 200);
}

BOOST_FIXTURE_TEST_CASE(a_caller_known_in_memory_skips_the_lookup_and_its_deadline, CoreApp) {
  as_cookie({"agent"});
  slow_lookup = true;  // the store would be too slow: only the answer from memory can pass
  int asked = 0;
  core.set_authenticate_now(
      [&](const IncomingRequest& in,
          const boost::asio::any_io_executor&) -> std::optional<std::optional<AuthContext>> {
        ++asked;
        if (in.header("cookie")) return caller;
        return std::nullopt;  // unknown: the lookup decides
      });
  Response r = send("GET", "/api/me", {{"cookie", "c"}});
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("roles").at(0).as_string() == "agent");
  BOOST_TEST(asked == 1);
  BOOST_TEST(lookups == 0);
  // CSRF still applies to what memory answered.
  r = send("POST", "/auth/logout", with(with(kSameOrigin, "cookie", "c"), "x-csrf-token", "bad"));
  BOOST_TEST(r.status == 403);
  BOOST_TEST(lookups == 0);
  // Not known: the lookup runs as before, under the route's deadline.
  r = send("GET", "/api/me");
  BOOST_TEST(r.status == 504);
  BOOST_TEST(lookups == 1);
  BOOST_TEST(asked == 3);
}

// What nothing has to wait for (an immediate core route, a refusal, a caller known in memory)
// is answered by start() itself: no coroutine to await. The rest is left to await.
BOOST_FIXTURE_TEST_CASE(what_needs_no_wait_is_answered_by_start_itself, CoreApp) {
  boost::asio::io_context ioc;
  const boost::asio::any_io_executor executor = ioc.get_executor();
  const auto start = [&](std::string method, std::string target, Headers headers = {}) {
    IncomingRequest in;
    in.method = std::move(method);
    in.target = std::move(target);
    in.headers = std::move(headers);
    in.request_id = "core-request";
    return core.start(std::move(in), executor);
  };
  const auto answered = [](const Handled& h, int status) {
    return h.answer.has_value() && !h.rest.has_value() && h.answer->status == status;
  };
  BOOST_TEST(answered(start("GET", "/healthz"), 200));
  BOOST_TEST(answered(start("GET", "/api/territories/communes/49007"), 200));
  BOOST_TEST(answered(start("GET", "/no/such/path"), 404));
  BOOST_TEST(answered(start("DELETE", "/healthz"), 405));
  BOOST_TEST(answered(start("GET", "/%2e%2e/x"), 400));
  // An authenticated route whose caller memory does not know: the store is asked, later.
  Handled h = start("GET", "/api/me", {{"cookie", "c"}});
  BOOST_TEST(!h.answer.has_value());
  BOOST_TEST(h.rest.has_value());
  as_cookie({"agent"});
  core.set_authenticate_now(
      [&](const IncomingRequest& in,
          const boost::asio::any_io_executor&) -> std::optional<std::optional<AuthContext>> {
        if (in.header("cookie")) return caller;
        return std::nullopt;
      });
  BOOST_TEST(answered(start("GET", "/api/me", {{"cookie", "c"}}), 200));
  BOOST_TEST(answered(start("GET", "/metrics", {{"cookie", "c"}}), 403));
  // A handler that may wait is awaited, even with its caller known.
  h = start("GET", "/test/slow", {{"cookie", "c"}});
  BOOST_TEST(!h.answer.has_value());
  BOOST_TEST(h.rest.has_value());
  BOOST_TEST(lookups == 0);
  // What start() answered was counted like any other answer.
  BOOST_TEST(metrics.render().find(R"(route="GET /healthz",status="200"} 1)") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(core_handlers_answer_errors_by_throwing, CoreApp) {
  Response r = send("GET", "/test/throw");
  BOOST_TEST(r.status == 500);
  BOOST_TEST(error_code(r) == "internal_error");
  BOOST_TEST(json(r).at("error").at("request_id").as_string() == "core-request");
  BOOST_TEST(r.body.find("secret internal detail") == std::string::npos);
  r = send("GET", "/test/busy");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(error_code(r) == "busy");
  BOOST_TEST(header(r, "Retry-After") == "2");
}

BOOST_FIXTURE_TEST_CASE(a_store_that_cannot_be_reached_is_a_503_to_retry, CoreApp) {
  const Response r = send("GET", "/test/store-down");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(error_code(r) == "store_unavailable");
  BOOST_TEST(header(r, "Retry-After") == "5");
  BOOST_TEST(r.body.find("5432") == std::string::npos);  // the cause goes to the log only
}

BOOST_FIXTURE_TEST_CASE(a_header_or_status_that_would_break_the_response_is_a_500, CoreApp) {
  Response r = send("GET", "/test/echo?v=plain%20text&name=X-Name");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(header(r, "X-Echo") == "plain text");
  BOOST_TEST(send("GET", "/test/echo?status=599").status == 599);
  for (const char* query :
       {"v=a%0D%0ASet-Cookie:%20session=forged", "v=a%0Ab", "v=a%00b", "name=Set-Cookie:%20a",
        "name=X%20Y", "name=", "type=text/html%0D%0ASet-Cookie:%20session=forged", "status=0",
        "status=101", "status=600", "status=20000"}) {
    r = send("GET", std::string("/test/echo?") + query);
    BOOST_TEST(r.status == 500, query);
    BOOST_TEST(r.body.find("forged") == std::string::npos, query);
    BOOST_TEST(r.headers.empty(), query);
  }
  // Beast refuses a field of 64 KiB or more by throwing, in the session: no answer at all.
  r = send("GET", "/test/echo?v=" + std::string(70'000, 'a'));
  BOOST_TEST(r.status == 500);
}

BOOST_AUTO_TEST_CASE(one_parser_for_query_strings_and_form_bodies) {
  auto q = parse_form("a=1&next=/x");
  BOOST_TEST_REQUIRE(q.has_value());
  BOOST_TEST(q->at("a") == "1");
  BOOST_TEST(q->at("next") == "/x");
  q = parse_form("q=Saint%2DMalo+%C3%A9t%C3%A9&next=%2Fapi%2Fme%3Fa%3D1");  // percent, '+'
  BOOST_TEST_REQUIRE(q.has_value());
  BOOST_TEST(q->at("q") == "Saint-Malo été");
  BOOST_TEST(q->at("next") == "/api/me?a=1");
  q = parse_form("a=1&a=2");  // a repeated key keeps its last value
  BOOST_TEST_REQUIRE(q.has_value());
  BOOST_TEST(q->at("a") == "2");
  q = parse_form("a=&b&=x&&c=3");  // empty values kept, empty keys skipped
  BOOST_TEST_REQUIRE(q.has_value());
  BOOST_TEST(q->size() == 3u);
  BOOST_TEST(q->at("a").empty());
  BOOST_TEST(q->at("b").empty());
  BOOST_TEST(q->at("c") == "3");
  q = parse_form("");
  BOOST_TEST_REQUIRE(q.has_value());
  BOOST_TEST(q->empty());
  for (const char* malformed : {"a=%zz", "a=%4", "a=1&b=%"})
    BOOST_TEST(!parse_form(malformed).has_value(), malformed);
}

BOOST_FIXTURE_TEST_CASE(the_login_page_finds_next_among_other_parameters, CoreApp) {
  Response r = send("GET", "/auth/login?a=1&next=/x");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.find(R"(name="next" value="/x")") != std::string::npos, r.body);
  BOOST_TEST(r.body.find("/auth/oidc/test/start?next=%2Fx") != std::string::npos);
  r = send("GET", "/auth/login?next=%2Fapi%2Fme%3Fa%3D1&a=1");
  BOOST_TEST(r.body.find(R"(name="next" value="/api/me?a=1")") != std::string::npos);
  r = send("GET", "/auth/login?next=//evil.example/x");  // never away from this site
  BOOST_TEST(r.body.find(R"(name="next" value="/")") != std::string::npos);
  r = send("HEAD", "/auth/login?a=1&next=/x");
  BOOST_TEST(r.status == 200);
}

BOOST_FIXTURE_TEST_CASE(queries_reach_core_handlers_decoded_or_get_a_400, CoreApp) {
  Response r = send("GET", "/api/territories/communes?limit=1&q=%41ngers");
  BOOST_TEST(r.status == 200);
  BOOST_TEST_REQUIRE(json(r).at("communes").as_array().size() == 1u);
  BOOST_TEST(json(r).at("communes").at(0).at("code").as_string() == "49007");
  r = send("GET", "/api/territories/communes/49007");
  BOOST_TEST(json(r).at("name").as_string() == "Angers");
  r = send("GET", "/api/territories/communes/99999");
  BOOST_TEST(r.status == 404);
  for (const char* malformed :
       {"/api/territories/communes?q=%zz", "/healthz?a=%4", "/healthz?a b"}) {
    r = send("GET", malformed);
    BOOST_TEST(r.status == 400, malformed);
    BOOST_TEST(error_code(r) == "bad_request", malformed);
  }
  r = send("GET", "/api/territories/communes?q=");  // an empty value is a value
  BOOST_TEST(r.status == 400);
  BOOST_TEST(json(r).at("error").at("message").as_string() == "give q (a name) or postal_code");
}

BOOST_FIXTURE_TEST_CASE(plugins_get_the_same_decoded_query, Faulty) {
  Response r = call("GET", "/api/faulty/slow?ms=1&ms=%35");  // last wins, decoded
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("slept_ms").as_int64() == 5);
}

BOOST_FIXTURE_TEST_CASE(core_and_plugin_routes_share_one_router_and_the_core_keeps_its_paths,
                        Faulty) {
  std::vector<CoreRoute> routes;
  routes.push_back({{.method = "GET", .path = "/api/faulty/ok", .authenticate = false},
                    [](CoreRequest) -> Task<Response> { co_return Response::text("core"); }});
  Dispatcher both(
      host, metrics,
      [](const IncomingRequest&) -> Task<std::optional<AuthContext>> { co_return std::nullopt; },
      std::move(routes));
  IncomingRequest in;
  in.method = "GET";
  in.target = "/api/faulty/ok";
  in.request_id = "shared-router";
  Response r = run(both.handle(in));
  BOOST_TEST(r.body == "core");  // the plugin's route on the same path is refused
  in.target = "/api/faulty/http-error";
  BOOST_TEST(run(both.handle(in)).status == 418);  // its other routes still answer
  in.method = "DELETE";
  r = run(both.handle(in));
  BOOST_TEST(r.status == 405);
}

BOOST_FIXTURE_TEST_CASE(a_path_the_router_and_a_handler_could_read_apart_is_a_400, CoreApp) {
  BOOST_TEST(send("GET", "/api/territories/communes/49007").status == 200);
  BOOST_TEST(send("GET", "/api/territories/communes/%34%39007").status == 200);  // unreserved
  for (const char* target :
       {"/api/territories/communes%2F49007",   // one segment as sent, two once decoded
        "/api/territories/%2fcommunes/49007",  // likewise, and an empty segment
        "/api/territories/communes/49007%00",  // a C string would end before the NUL
        "/api/territories/communes/%2e%2e",    // dot segments, encoded or not
        "/api/territories/communes/./49007", "/api/territories/x/../communes/49007",
        "/api/territories/communes/49007%5C"}) {  // a backslash some servers read as a slash
    const Response r = send("GET", target);
    BOOST_TEST(r.status == 400, target);
    BOOST_TEST(error_code(r) == "bad_request", target);
  }
}

BOOST_FIXTURE_TEST_CASE(a_plugin_sees_the_path_routed_and_the_header_values_the_core_read, Faulty) {
  IncomingRequest in;
  in.method = "POST";
  in.target = "//api/faulty//headers/?a=1";
  in.headers = {{"content-type", "application/json"},
                {"x-forwarded-for", "192.0.2.1"},
                {"x-forwarded-for", "198.51.100.7"}};
  in.body = "{}";
  in.request_id = "plugin-path";
  IncomingRequest bare = in;  // no query: a target read without Boost.URL's parse
  bare.target = "//api/faulty//headers/";
  const Response r = run(dispatcher.handle(std::move(in)));
  BOOST_TEST_REQUIRE(r.status == 200);
  BOOST_TEST(json(r).at("path").as_string() == "/api/faulty/headers");
  // The first value, as IncomingRequest::header() gives the core.
  BOOST_TEST(json(r).at("values").at("x-forwarded-for").as_string() == "192.0.2.1");
  const Response b = run(dispatcher.handle(std::move(bare)));
  BOOST_TEST_REQUIRE(b.status == 200);
  BOOST_TEST(json(b).at("path").as_string() == "/api/faulty/headers");
}

BOOST_AUTO_TEST_CASE(a_core_route_the_dispatcher_cannot_apply_is_refused_at_start) {
  AppFixture app;
  auto dispatch = [&](std::vector<RouteSpec> specs) {
    std::vector<CoreRoute> routes;
    for (auto& spec : specs)
      routes.push_back(
          {std::move(spec), [](CoreRequest) -> Task<Response> { co_return Response{}; }});
    Dispatcher d(app.host, app.metrics, nullptr, std::move(routes));
  };
  BOOST_CHECK_NO_THROW(dispatch({{.method = "GET", .path = "/x", .roles = {"*"}}}));
  BOOST_CHECK_THROW(dispatch({{.method = "GET", .path = "/x", .roles = {"admin"}}}),
                    std::logic_error);
  BOOST_CHECK_THROW(
      dispatch({{.method = "GET", .path = "/x", .roles = {"elu"}, .authenticate = false}}),
      std::logic_error);
  // Without a session there is no session token to check: say which CSRF policy applies.
  BOOST_CHECK_THROW(dispatch({{.method = "POST", .path = "/x", .authenticate = false}}),
                    std::logic_error);
  BOOST_CHECK_THROW(dispatch({{.method = "HEAD", .path = "/x"}}), std::logic_error);
  BOOST_CHECK_THROW(
      dispatch({{.method = "GET", .path = "/x/{id}"}, {.method = "GET", .path = "/x/{n}"}}),
      std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
