// The organisations' members through the dispatcher, on the fixture's store: SQLite, and
// PostgreSQL in the .postgresql run (its SQL: the référents' lock, the last-référent guard).
#include "orgs/organisations.hpp"
#include "store/core_schema.hpp"
#include "support/app_fixture.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace passerelle::test;

namespace {

struct Orgs {
  TempDir dir;
  std::string location = test_store_is_postgresql() ? shared_test_cluster().fresh_database()
                                                    : dir.path() + "/db.sqlite";
  std::unique_ptr<Store> store = open_test_store(location);
  OutboundHttpClient http{OutboundConfig{}};
  MetricsRegistry metrics;
  TerritoryIndex territories{
      read_territories(std::string(PASSERELLE_TEST_FIXTURES) + "/territories")};
  PluginHost host{*store, http, metrics, std::chrono::seconds(5), nullptr, &territories};
  std::optional<AuthContext> caller;
  Dispatcher dispatcher{
      host, metrics,
      [this](const IncomingRequest&) -> Task<std::optional<AuthContext>> { co_return caller; },
      organisation_routes(
          *store, [this]() -> const Territories& { return territories; },
          [] {
            return std::vector<std::string>{"conseils", "offers"};
          })};

  Orgs() {
    run(store->migrate("core", core_migrations()));
    for (const char* name : {"referent", "delegue", "other"}) {
      Statement add{"INSERT INTO users (username, display_name) VALUES (?1, ?1)",
                    {std::string(name)}};
      run(store->query(std::move(add)));
    }
  }
  AuthContext who(const std::string& username, const std::string& role) {
    Statement id{"SELECT id FROM users WHERE username = ?1", {username}};
    AuthContext ctx;
    ctx.identity = make_identity({role});
    ctx.identity.subject = username;
    ctx.user_id = std::get<std::int64_t>(run(store->query(std::move(id))).rows.at(0).at(0));
    return ctx;
  }
  Response as(const AuthContext& ctx, const std::string& method, const std::string& target,
              const std::string& body = "") {
    caller = ctx;
    IncomingRequest in;
    in.method = method;
    in.target = target;
    in.body = body;
    in.headers = {{"content-type", "application/json"}};
    in.request_id = "test";
    return run(dispatcher.handle(std::move(in)));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(organisations_routes)

BOOST_FIXTURE_TEST_CASE(appointments_and_the_last_referent, Orgs) {
  const auto op = who("other", "operator");
  const auto referent = who("referent", "elu");
  const auto delegue = who("delegue", "agent");
  const std::string at = "/api/organisations/49007/members";
  BOOST_TEST(as(referent, "GET", at).status == 404);
  BOOST_TEST(as(op, "POST", at, R"({"username":"referent","role":"referent"})").status == 201);
  auto r = as(referent, "POST", at,
              R"({"username":"delegue","role":"delegue","services":["offers","offers"]})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  BOOST_TEST(boost::json::parse(r.body).at("services").as_array().size() == 1u);
  BOOST_TEST(as(referent, "POST", at, R"({"username":"ghost","role":"delegue"})").status == 422);
  BOOST_TEST(as(referent, "POST", at, R"({"username":"delegue","role":"boss"})").status == 422);
  BOOST_TEST(as(delegue, "GET", at).status == 404);
  BOOST_TEST(as(referent, "GET", "/api/organisations/49099/members").status == 404);
  BOOST_TEST(as(referent, "DELETE", at + "/referent").status == 409);
  BOOST_TEST(as(referent, "PUT", at + "/referent", R"({"role":"delegue"})").status == 409);
  BOOST_TEST(as(referent, "PUT", at + "/delegue", R"({"role":"referent"})").status == 200);
  BOOST_TEST(as(referent, "DELETE", at + "/referent").status == 204);
  BOOST_TEST(as(delegue, "DELETE", at + "/delegue").status == 409);  // now the last one
  BOOST_TEST(as(op, "DELETE", at + "/delegue").status == 204);
  // An intercommunality by its SIREN.
  BOOST_TEST(as(op, "POST", "/api/organisations/244900015/members",
                R"({"username":"referent","role":"referent"})")
                 .status == 201);
  const auto mine = boost::json::parse(as(referent, "GET", "/api/me/organisations").body);
  BOOST_TEST(mine.at("organisations").as_array().at(0).at("kind").as_string() == "epci");
  // The audit trail, in the store.
  Statement trail{"SELECT count(*) FROM audit_events", {}};
  BOOST_TEST(std::get<std::int64_t>(run(store->query(std::move(trail))).rows.at(0).at(0)) ==
             6);  // the six changes made, none of the refused
}

BOOST_AUTO_TEST_SUITE_END()
