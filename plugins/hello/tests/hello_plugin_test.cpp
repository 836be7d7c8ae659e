// hello through the SDK's test kit: the plugin run as the gateway runs it, without a gateway.
#define BOOST_TEST_MODULE hello_plugin
#include "hello_plugin.hpp"

#include "passerelle/testing.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <array>

using namespace passerelle;
using passerelle::testing::PluginHarness;
using passerelle::testing::user;

namespace {
boost::json::value body(const Response& r) { return boost::json::parse(r.body); }
}  // namespace

BOOST_AUTO_TEST_CASE(the_config_is_read_into_settings_with_its_defaults) {
  plugins::hello::HelloPlugin plugin;
  PluginHarness defaults(plugin);
  BOOST_TEST(body(defaults.call("GET", "/api/hello")).at("message").as_string() == "Bonjour");

  plugins::hello::HelloPlugin other;
  PluginHarness set(other, {{"greeting", "Kenavo"}, {"max_items", 1}});
  BOOST_TEST(body(set.call("GET", "/api/hello")).at("message").as_string() == "Kenavo");
  BOOST_TEST(set.host().counters.value("greetings_total") == 1);
  BOOST_TEST(set.host().log.contains("ready, greeting \"Kenavo\""));

  plugins::hello::HelloPlugin third;
  BOOST_CHECK_THROW(PluginHarness(third, {{"greetin", "typo"}}), std::invalid_argument);
  BOOST_CHECK_THROW(PluginHarness(third, {{"max_items", "many"}}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(items_are_stored_with_the_clock_of_the_host) {
  plugins::hello::HelloPlugin plugin;
  PluginHarness h(plugin, {{"max_items", 1}});
  // Roles are checked as the gateway checks them.
  BOOST_TEST(h.call("POST", "/api/hello/items", R"({"name":"Angers"})").status == 401);
  BOOST_TEST(h.call("POST", "/api/hello/items", R"({"name":"Angers"})", user("elu")).status == 403);
  h.host().clock.advance(std::chrono::hours(24));
  auto r = h.call("POST", "/api/hello/items", R"({"name":"Angers"})", user("operator"));
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  BOOST_TEST(body(r).at("created_at").as_string() == "2026-01-02T00:00:00Z");
  BOOST_TEST(h.call("POST", "/api/hello/items", R"({"name":"Cholet"})", user("operator")).status ==
             409);
  BOOST_TEST(h.call("POST", "/api/hello/items", "{", user("operator")).status == 400);

  r = h.call("GET", "/api/hello/items/1");
  BOOST_TEST(body(r).at("name").as_string() == "Angers");
  BOOST_TEST(h.call("GET", "/api/hello/items/2").status == 404);
  BOOST_TEST(h.call("GET", "/api/hello/items/x").status == 400);
  BOOST_TEST(h.call("DELETE", "/api/hello/items/1").status == 405);
  BOOST_TEST(h.call("GET", "/api/hello/nowhere").status == 404);
  const auto rows = h.host().db.inspect({"SELECT count(*) FROM hello_items", {}});
  BOOST_TEST(std::get<std::int64_t>(rows.rows.at(0).at(0)) == 1);
}

BOOST_AUTO_TEST_CASE(the_database_holds_the_plugin_to_its_own_tables) {
  plugins::hello::HelloPlugin plugin;
  PluginHarness h(plugin);
  auto& db = h.host().db;
  db.inspect({"CREATE TABLE accounts (id INTEGER)", {}});
  BOOST_CHECK_THROW(testing::run(db.query({"SELECT * FROM accounts", {}})), std::runtime_error);
  BOOST_CHECK_THROW(
      testing::run(db.query({"SELECT * FROM hello_items WHERE id = ?", {std::int64_t{1}}})),
      std::runtime_error);
  BOOST_CHECK_NO_THROW(
      testing::run(db.query({"SELECT * FROM hello_items WHERE id = ?1", {std::int64_t{1}}})));
}

BOOST_AUTO_TEST_CASE(the_upstream_is_a_fake_the_test_steers) {
  plugins::hello::HelloPlugin plugin;
  PluginHarness h(plugin, {{"upstream_url", "https://example.test/feed"}});
  BOOST_TEST(h.call("GET", "/api/hello/upstream").status == 502);
  h.host().http_client.respond = [](const OutboundRequest&) {
    return OutboundResponse{200, {}, "twelve bytes"};
  };
  auto r = h.call("GET", "/api/hello/upstream");
  BOOST_TEST(body(r).at("bytes").as_int64() == 12);
  BOOST_TEST(h.host().http_client.requests.back().url == "https://example.test/feed");
  BOOST_TEST(h.widget(user("agent"))->at("text").as_string() == "Bonjour, Test agent");
}

namespace {
// A plugin whose route reads its body as it comes and answers a stream: the kit hands it the
// body piece by piece and reads the answer whole.
class Countdown final : public BodyStream {
 public:
  explicit Countdown(int n) : left_(n) {}
  Task<std::size_t> read(std::span<char> into) override {
    if (left_ == 0 || into.empty()) co_return 0;
    into[0] = static_cast<char>('0' + left_--);
    co_return 1;
  }

 private:
  int left_;
};

Task<Response> count_bytes(Request r) {
  std::size_t total = 0;
  std::array<char, 4> piece;
  for (std::size_t n; (n = co_await r.body_stream->read(piece)) > 0;) total += n;
  Response out = Response::text("");
  out.stream = std::make_shared<Countdown>(static_cast<int>(total));
  co_return out;
}

class Streaming final : public Plugin {
 public:
  PluginInfo info() const override { return {"flux", "0.1.0", "Streams (tests)."}; }
  Task<void> start(Host&) override { co_return; }
  std::vector<Route> routes() override {
    Route r{"POST", "", {}, count_bytes};
    r.streams_body = true;
    return {r};
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(streamed_bodies_both_ways) {
  Streaming plugin;
  PluginHarness h(plugin);
  const auto r = h.call("POST", "/api/flux", "abcdefghi");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == "987654321");
}
