// The example plugin through its real library: config, migrations, database, metrics, widget;
// and its input validation as plain functions.
#include "items.hpp"
#include "support/app_fixture.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace passerelle::test;

namespace {
struct Hello : AppFixture {
  Hello() {
    start("  - name: hello\n    library: " + module("hello") +
          "\n    config:\n      greeting: Salut\n      max_items: 2\n");
    identity = make_identity({"operator"});
  }
};

int status_of(const std::string& body) {
  try {
    plugins::hello::parse_new_item(body);
  } catch (const HttpError& e) {
    return e.status();
  }
  return 200;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(hello_plugin)

BOOST_AUTO_TEST_CASE(new_item_validation) {
  BOOST_TEST(plugins::hello::parse_new_item(R"({"name":"Angers"})") == "Angers");
  BOOST_TEST(status_of("{") == 400);
  BOOST_TEST(status_of("[]") == 422);
  BOOST_TEST(status_of(R"({"name":3})") == 422);
  BOOST_TEST(status_of(R"({"name":""})") == 422);
  BOOST_TEST(status_of(R"({"name":"a\u0001"})") == 422);
  BOOST_TEST(status_of(R"({"name":")" + std::string(101, 'x') + "\"}") == 422);
}

BOOST_FIXTURE_TEST_CASE(greeting_comes_from_config_and_is_counted, Hello) {
  Response r = call("GET", "/api/hello");
  BOOST_TEST(r.body == R"({"message":"Salut"})");
  BOOST_TEST(metrics.render().find("passerelle_hello_greetings_total 1") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(items_are_stored_and_limited, Hello) {
  Response r = call("POST", "/api/hello/items", R"({"name":"Angers"})");
  BOOST_TEST(r.status == 201);
  const auto id = json(r).at("id").as_int64();
  r = call("GET", "/api/hello/items/" + std::to_string(id));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("name").as_string() == "Angers");
  BOOST_TEST(call("POST", "/api/hello/items", R"({"name":"Saumur"})").status == 201);
  r = call("POST", "/api/hello/items", R"({"name":"Cholet"})");
  BOOST_TEST(r.status == 409);
  BOOST_TEST(error_code(r) == "limit_reached");
  r = call("GET", "/api/hello/items");
  BOOST_TEST(json(r).at("items").as_array().size() == 2u);
  BOOST_TEST(call("GET", "/api/hello/items/999").status == 404);
  BOOST_TEST(call("GET", "/api/hello/items/abc").status == 400);
}

BOOST_FIXTURE_TEST_CASE(creating_needs_the_operator_role, Hello) {
  identity = make_identity({"elu"});
  BOOST_TEST(call("POST", "/api/hello/items", R"({"name":"Angers"})").status == 403);
  BOOST_TEST(call("GET", "/api/hello/me").status == 200);
  identity.reset();
  BOOST_TEST(call("GET", "/api/hello/me").status == 401);
}

BOOST_FIXTURE_TEST_CASE(upstream_not_configured_is_a_404, Hello) {
  Response r = call("GET", "/api/hello/upstream");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(error_code(r) == "not_configured");
}

BOOST_FIXTURE_TEST_CASE(widget_speaks_to_the_user, Hello) {
  auto plugin = host.table()->plugins.at(0);
  auto widget = run(plugin->plugin().widget(make_identity({"elu"})));
  BOOST_TEST_REQUIRE(widget.has_value());
  BOOST_TEST(widget->at("text").as_string() == "Salut, Marie Dupont");
}

BOOST_AUTO_TEST_CASE(items_made_before_integer_times_keep_their_date) {
  AppFixture app;
  if (app.skipped_on_postgresql()) return;
  {
    // The store as the first release left it: migration 1 only, a time stored as text.
    auto library = LoadedPlugin::load(module("hello"));
    std::vector<Migration> first = library->plugin().migrations();
    first.resize(1);
    auto db = app.store.for_plugin("hello");
    BOOST_TEST(run(db->migrate(first)) == 1);
    run(
        db->query({"INSERT INTO hello_items (name, created_at) VALUES ('Saumur', "
                   "'2025-06-01T08:30:00Z')",
                   {}}));
  }
  app.identity = make_identity({"operator"});
  app.start("  - name: hello\n    library: " + module("hello") + "\n");
  Response r = app.call("GET", "/api/hello/items/1");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"id":1,"name":"Saumur","created_at":"2025-06-01T08:30:00Z"})");
  r = app.call("POST", "/api/hello/items", R"({"name":"Angers"})");
  BOOST_TEST(r.status == 201);
  BOOST_TEST(AppFixture::json(r).at("id").as_int64() == 2);  // ids go on after the old ones
  BOOST_TEST(AppFixture::json(r).at("created_at").as_string().size() == 20u);
}

BOOST_AUTO_TEST_CASE(unreachable_upstream_is_a_502) {
  AppFixture app;
  // Port 9 on loopback: nothing listens there, the connection is refused at once.
  app.start("  - name: hello\n    library: " + module("hello") +
            "\n    config:\n      upstream_url: http://127.0.0.1:9/x\n");
  Response r = app.call("GET", "/api/hello/upstream");
  BOOST_TEST(r.status == 502);
  BOOST_TEST(AppFixture::error_code(r) == "upstream_unavailable");
}

BOOST_AUTO_TEST_SUITE_END()
