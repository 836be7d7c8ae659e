// The organisations' members through the dispatcher, on the fixture's store: SQLite, and
// PostgreSQL in the .postgresql run (its SQL: the référents' lock, the last-référent guard).
#include "orgs/organisations.hpp"
#include "auth/accounts.hpp"
#include "orgs/current_organisation.hpp"
#include "store/core_schema.hpp"
#include "support/app_fixture.hpp"
#include "util/blocking_pool.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace passerelle::test;

namespace {

// A relay that keeps what it is given, or fails.
class RecordingMailer final : public Mailer {
 public:
  bool configured() const override { return on; }
  Task<void> send(Mail mail) override {
    if (fail) throw std::runtime_error("relay refused: 451");
    sent.push_back(std::move(mail));
    co_return;
  }
  bool on = false;
  bool fail = false;
  std::vector<Mail> sent;
};

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
  RecordingMailer mailer;
  Dispatcher dispatcher{
      host, metrics,
      [this](const IncomingRequest&) -> Task<std::optional<AuthContext>> { co_return caller; },
      organisation_routes({.store = *store,
                           .accounts = accounts,
                           .territories = [this]() -> const Territories& { return territories; },
                           .services =
                               [] {
                                 return std::vector<std::string>{"conseils", "offers"};
                               },
                           .mailer = [this]() -> Mailer* { return &mailer; },
                           .public_url = [] { return std::string("https://gw.test"); }})};

  Orgs() {
    run(store->migrate("core", core_migrations()));
    // Accounts of Angers; "cholet" of another commune; "staff" of the bank.
    for (const char* name : {"referent", "delegue", "other", "cholet", "staff"}) {
      const std::string n = name;
      Statement add{
          "INSERT INTO users (username, display_name, commune_insee, roles) VALUES (?1, ?1, ?2,"
          " ?3)",
          {n, std::string(n == "cholet" ? "49099" : "49007"),
           std::string(n == "staff"      ? "operator"
                       : n == "referent" ? "elu"
                                         : "agent")}};
      run(store->query(std::move(add)));
    }
  }
  AuthContext who(const std::string& username, const std::string& role) {
    Statement id{"SELECT id FROM users WHERE username = ?1", {username}};
    AuthContext ctx;
    ctx.identity = make_identity({role});
    ctx.user_id = std::get<std::int64_t>(run(store->query(std::move(id))).rows.at(0).at(0));
    ctx.identity.subject = "u-" + std::to_string(ctx.user_id);
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
  const auto op = who("staff", "operator");
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
  // Not of Angers: not the référent's to appoint (the same answer as for nobody); the bank's
  // staff are nobody's members.
  BOOST_TEST(as(referent, "POST", at, R"({"username":"cholet","role":"delegue"})").status == 422);
  BOOST_TEST(as(op, "POST", at, R"({"username":"staff","role":"delegue"})").status == 422);
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
  const auto op = who("staff", "operator");
  const std::string at = "/api/organisations/49007";
  BOOST_TEST(
      as(op, "POST", at + "/members", R"({"username":"referent","role":"referent"})").status ==
      201);
  const auto referent = who("referent", "elu");
  BOOST_TEST(as(who("delegue", "agent"), "POST", at + "/invitations",
                R"({"email":"new@mairie.invalid","role":"delegue"})")
                 .status == 404);  // not theirs to invite to
  // No relay: a link, which only the bank makes (it proves no address).
  auto r = as(referent, "POST", at + "/invitations",
              R"({"email":"new@mairie.invalid","role":"delegue","services":["conseils"]})");
  BOOST_TEST(r.status == 409, r.body);
  r = as(op, "POST", at + "/invitations",
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
  r = as(op, "POST", at + "/invitations", R"({"email":"late@mairie.invalid","role":"delegue"})");
  const std::string late(boost::json::parse(r.body).at("accept").as_string());
  Statement expire{"UPDATE invitations SET expires_at = ?1 WHERE used_at = 0", {std::int64_t{1}}};
  run(store->query(std::move(expire)));
  r = as(std::nullopt, "POST", late,
         R"({"username":"tard","password":"une phrase de passe solide","display_name":"Tard"})");
  BOOST_TEST(r.status == 410);
  BOOST_TEST(!run(accounts.find_by_username("tard")).has_value());
}

BOOST_FIXTURE_TEST_CASE(an_invitation_is_mailed_through_the_relay_or_not_made, Orgs) {
  const auto op = who("staff", "operator");
  const std::string at = "/api/organisations/49007/invitations";
  mailer.on = true;
  auto r = as(op, "POST", at, R"({"email":"elu@mairie.invalid","role":"referent"})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const auto answer = boost::json::parse(r.body);
  BOOST_TEST(answer.at("mailed").as_bool());
  BOOST_TEST(!answer.as_object().contains("link"));  // the address receives it, not the inviter
  BOOST_TEST_REQUIRE(mailer.sent.size() == 1u);
  const Mail& mail = mailer.sent[0];
  BOOST_TEST(mail.to == "elu@mairie.invalid");
  BOOST_TEST(mail.subject == "Invitation à rejoindre Angers sur Passerelle");
  const auto at_link = mail.text.find("https://gw.test/invitation#");
  BOOST_TEST_REQUIRE(at_link != std::string::npos, mail.text);
  const std::string token = mail.text.substr(at_link + 27, 43);
  r = as(
      std::nullopt, "POST", "/api/invitations/" + token + "/accept",
      R"({"username":"nouvel.elu","password":"une phrase de passe solide","display_name":"Élu"})");
  BOOST_TEST(r.status == 201, r.body);
  // A relay that fails: 503, and no invitation made (no link exists anywhere).
  mailer.fail = true;
  r = as(op, "POST", at, R"({"email":"autre@mairie.invalid","role":"delegue"})");
  BOOST_TEST(r.status == 503, r.body);
  Statement waiting{"SELECT count(*) FROM invitations WHERE email = 'autre@mairie.invalid'", {}};
  BOOST_TEST(std::get<std::int64_t>(run(store->query(std::move(waiting))).rows.at(0).at(0)) == 0);
  // An address that could carry a header is refused before anything.
  BOOST_TEST(as(op, "POST", at, R"({"email":"a@b.invalid\r\nBcc: x@y","role":"delegue"})").status ==
             422);
  BOOST_TEST(as(op, "POST", at, R"({"email":"a@b@c.invalid","role":"delegue"})").status == 422);
  // An invitation outlives nobody's rights: its référent removed, it is withdrawn.
  mailer.fail = false;
  BOOST_TEST(as(op, "POST", "/api/organisations/49007/members",
                R"({"username":"delegue","role":"referent"})")
                 .status == 201);
  const auto referent = who("delegue", "agent");
  BOOST_TEST(
      as(referent, "POST", at, R"({"email":"x@mairie.invalid","account_role":"elu"})").status ==
      422);  // an agent does not open an élu's account
  r = as(referent, "POST", at, R"({"email":"x@mairie.invalid","role":"delegue"})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const std::string& text = mailer.sent.back().text;
  const std::string withdrawn = text.substr(text.find("/invitation#") + 12, 43);
  BOOST_TEST(as(op, "DELETE", "/api/organisations/49007/members/delegue").status == 204);
  r = as(std::nullopt, "POST", "/api/invitations/" + withdrawn + "/accept",
         R"({"username":"retire","password":"une phrase de passe solide","display_name":"R"})");
  BOOST_TEST(r.status == 410, r.body);
  BOOST_TEST(!run(accounts.find_by_username("retire")).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_federated_login_takes_the_invitation_of_its_address, Orgs) {
  const auto op = who("staff", "operator");
  auto r = as(op, "POST", "/api/organisations/49007/invitations",
              R"({"email":"Marie.Dupont@Angers.fr","role":"delegue","services":["offers"]})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  Statement add{
      "INSERT INTO users (display_name, email) VALUES ('Marie', 'marie.dupont@angers.fr')", {}};
  run(store->query(std::move(add)));
  Statement id{"SELECT id FROM users WHERE username IS NULL", {}};
  Account marie;
  marie.id = std::get<std::int64_t>(run(store->query(std::move(id))).rows.at(0).at(0));
  marie.email = "marie.dupont@angers.fr";
  BOOST_TEST(run(take_invitation_by_email(*store, nullptr, marie, marie.email)) == "49007");
  BOOST_TEST(run(take_invitation_by_email(*store, nullptr, marie, marie.email)).empty());  // used
  // Listed, changed and removed by the key of an account without a username.
  const std::string key = "~" + std::to_string(marie.id);
  const auto listed = boost::json::parse(as(op, "GET", "/api/organisations/49007/members").body);
  BOOST_TEST(listed.at("members").as_array().at(0).at("username").as_string() == key);
  BOOST_TEST(as(op, "DELETE", "/api/organisations/49007/members/~999999").status == 404);
  BOOST_TEST(as(op, "DELETE", "/api/organisations/49007/members/" + key).status == 204);
}

BOOST_AUTO_TEST_CASE(the_organisation_acted_for) {
  const std::vector<Membership> none;
  // A member of nothing acts for their commune: every service until it has a référent.
  auto a = choose_organisation(none, "", "49007", false);
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(a->organisation == "49007");
  BOOST_TEST(a->every_service);
  a = choose_organisation(none, "", "49007", true);
  BOOST_TEST(!a->every_service);
  BOOST_TEST(!choose_organisation(none, "", "", false)->every_service);  // no commune: nothing
  BOOST_TEST(a->role.empty());
  const std::vector<Membership> two{{"244900015", "referent", {"offers"}},
                                    {"49007", "delegue", {"conseils"}}};
  // Their commune's membership first, else the first; the session's choice when it has one.
  BOOST_TEST(choose_organisation(two, "", "49007", true)->organisation == "49007");
  BOOST_TEST(choose_organisation(two, "", "49099", true)->organisation == "244900015");
  a = choose_organisation(two, "244900015", "49007", true);
  BOOST_TEST(a->role == "referent");
  BOOST_TEST((a->services == std::vector<std::string>{"offers"}));
  // A choice no longer among the memberships: the session ends.
  BOOST_TEST(!choose_organisation(two, "49099", "49007", true).has_value());
  BOOST_TEST(!choose_organisation(none, "49007", "49007", false).has_value());
  // The identity: an intercommunality has no commune.
  Identity id;
  id.commune_insee = "49007";
  BOOST_TEST(apply_organisation({two, true}, "244900015", id));
  BOOST_TEST(id.commune_insee.empty());
  BOOST_TEST(id.may_use("offers"));
  BOOST_TEST(!id.may_use("conseils"));
  id.roles = {"advisor"};
  BOOST_TEST(id.may_use("conseils"));  // the bank's staff use every service
}

BOOST_FIXTURE_TEST_CASE(invitations_waiting_are_listed_and_withdrawn, Orgs) {
  const auto op = who("staff", "operator");
  const std::string at = "/api/organisations/49007/invitations";
  auto r = as(op, "POST", at, R"({"email":"attente@mairie.invalid","role":"delegue"})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const auto made = boost::json::parse(r.body);
  const std::string id(made.at("id").as_string());
  const std::string accept(made.at("accept").as_string());
  auto listed = boost::json::parse(as(op, "GET", at).body).at("invitations").as_array();
  BOOST_TEST_REQUIRE(listed.size() == 1u);
  BOOST_TEST(listed[0].at("id").as_string() == id);
  BOOST_TEST(listed[0].at("email").as_string() == "attente@mairie.invalid");
  // Not the référent of Cholet's to see or withdraw; an id of another shape: 404.
  BOOST_TEST(as(op, "POST", "/api/organisations/49099/members",
                R"({"username":"cholet","role":"referent"})")
                 .status == 201);
  const auto cholet = who("cholet", "agent");
  BOOST_TEST(as(cholet, "GET", at).status == 404);
  BOOST_TEST(as(cholet, "DELETE", at + "/" + id).status == 404);
  BOOST_TEST(as(op, "DELETE", at + "/zzzzzzzzzzzzzzzz").status == 404);
  BOOST_TEST(as(op, "DELETE", at + "/%27%20OR%201=1%20--").status == 404);
  BOOST_TEST(as(op, "DELETE", at + "/" + id).status == 204);
  BOOST_TEST(as(op, "DELETE", at + "/" + id).status == 404);  // once
  BOOST_TEST(as(op, "GET", at).body.find("attente@") == std::string::npos);
  r = as(std::nullopt, "POST", accept,
         R"({"username":"attente","password":"une phrase de passe solide","display_name":"A"})");
  BOOST_TEST(r.status == 404, r.body);
  Statement trail{"SELECT count(*) FROM audit_events WHERE action = 'invitation withdrawn'", {}};
  BOOST_TEST(std::get<std::int64_t>(run(store->query(std::move(trail))).rows.at(0).at(0)) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
