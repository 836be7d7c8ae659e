// The organisations' members through the dispatcher, on the fixture's store: SQLite, and
// PostgreSQL in the .postgresql run (its SQL: the référents' lock, the last-référent guard).
#include "orgs/organisations.hpp"
#include "auth/accounts.hpp"
#include "store/core_schema.hpp"
#include "support/app_fixture.hpp"
#include "util/blocking_pool.hpp"

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
  BlockingPool pool{1};
  Accounts accounts{*store, pool, false};
  std::optional<AuthContext> caller;
  Dispatcher dispatcher{
      host, metrics,
      [this](const IncomingRequest&) -> Task<std::optional<AuthContext>> { co_return caller; },
      organisation_routes(
          *store, accounts, [this]() -> const Territories& { return territories; },
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
  Response as(const std::optional<AuthContext>& ctx, const std::string& method,
              const std::string& target, const std::string& body = "") {
    caller = ctx;
    IncomingRequest in;
    in.method = method;
    in.target = target;
    in.body = body;
    in.headers = {{"content-type", "application/json"}, {"sec-fetch-site", "same-origin"}};
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

BOOST_FIXTURE_TEST_CASE(an_invitation_opens_one_account_once_within_its_days, Orgs) {
  const auto op = who("other", "operator");
  const std::string at = "/api/organisations/49007";
  BOOST_TEST(
      as(op, "POST", at + "/members", R"({"username":"referent","role":"referent"})").status ==
      201);
  const auto referent = who("referent", "elu");
  BOOST_TEST(as(who("delegue", "agent"), "POST", at + "/invitations",
                R"({"email":"new@mairie.invalid","role":"delegue"})")
                 .status == 404);  // not theirs to invite to
  auto r = as(referent, "POST", at + "/invitations",
              R"({"email":"new@mairie.invalid","role":"delegue","services":["conseils"]})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const std::string accept(boost::json::parse(r.body).at("accept").as_string());
  // The token is kept hashed: the store does not hold it.
  const std::string token = accept.substr(17, 43);
  Statement stored{"SELECT count(*) FROM invitations WHERE token_hash = ?1", {token}};
  BOOST_TEST(std::get<std::int64_t>(run(store->query(std::move(stored))).rows.at(0).at(0)) == 0);
  // A weak password: refused, and the invitation stays usable.
  r = as(std::nullopt, "POST", accept,
         R"({"username":"nouvel.agent","password":"court","display_name":"Nouvel agent"})");
  BOOST_TEST(r.status == 422, r.body);
  r = as(
      std::nullopt, "POST", accept,
      R"({"username":"nouvel.agent","password":"une phrase de passe solide","display_name":"Nouvel agent"})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const auto created = run(accounts.find_by_username("nouvel.agent"));
  BOOST_TEST_REQUIRE(created.has_value());
  BOOST_TEST(created->commune_insee == "49007");
  BOOST_TEST(created->email == "new@mairie.invalid");
  const auto mine =
      boost::json::parse(as(who("nouvel.agent", "agent"), "GET", "/api/me/organisations").body);
  BOOST_TEST(
      mine.at("organisations").as_array().at(0).at("services").as_array().at(0).as_string() ==
      "conseils");
  // Used: gone. Unknown: 404. Expired: gone.
  r = as(std::nullopt, "POST", accept,
         R"({"username":"autre","password":"une phrase de passe solide","display_name":"Autre"})");
  BOOST_TEST(r.status == 410);
  BOOST_TEST(as(std::nullopt, "POST", "/api/invitations/" + std::string(43, 'A') + "/accept", "{}")
                 .status == 404);
  r = as(referent, "POST", at + "/invitations",
         R"({"email":"late@mairie.invalid","role":"delegue"})");
  const std::string late(boost::json::parse(r.body).at("accept").as_string());
  Statement expire{"UPDATE invitations SET expires_at = ?1 WHERE used_at = 0", {std::int64_t{1}}};
  run(store->query(std::move(expire)));
  r = as(std::nullopt, "POST", late,
         R"({"username":"tard","password":"une phrase de passe solide","display_name":"Tard"})");
  BOOST_TEST(r.status == 410);
  BOOST_TEST(!run(accounts.find_by_username("tard")).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
