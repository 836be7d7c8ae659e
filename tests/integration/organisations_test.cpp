// Delegated administration through the real binary: an operator appoints a commune's first
// référent, who appoints a délégué with the services they may use; a référent manages their own
// organisation only; the last référent stays; every change is audit-logged.
#include "support/demo.hpp"
#include "support/gateway_process.hpp"
#include "support/https_client.hpp"
#include "support/run.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace passerelle::test;

BOOST_AUTO_TEST_SUITE(organisations)

BOOST_AUTO_TEST_CASE(referents_manage_their_own_organisation_only) {
  TempDir dir;
  const std::string source = PASSERELLE_SOURCE_DIR;
  GatewayProcess gw("demo: true\nstore:\n  sqlite: " + fixture_store(dir) +
                    "\nplugins:\n  - name: conseils\n    library: " + module("conseils") +
                    "\n    config:\n      settings_file: " + source + "/config/conseils.yaml\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  const Session referent = login(gw, "elu.angers", "passerelle-demo");
  const Session delegue = login(gw, "agent.angers", "passerelle-demo");
  TestConnection c(gw.https_port());
  const std::string angers = "/api/organisations/49007/members";

  // Before any appointment, the élu manages nothing: 404, as for an organisation not theirs.
  auto r = c.request("GET", angers, "", {{"Cookie", referent.cookie}});
  BOOST_TEST(r->status == 404);
  // The operator appoints the first référent.
  r = c.request("POST", angers, R"({"username":"elu.angers","role":"referent"})",
                op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  BOOST_TEST(boost::json::parse(r->body).at("role").as_string() == "referent");
  // The référent appoints a délégué with one service; a service not loaded is refused.
  r = c.request("POST", angers,
                R"({"username":"agent.angers","role":"delegue","services":["localtis"]})",
                referent.write_headers());
  BOOST_TEST(r->status == 422, r->body);
  r = c.request("POST", angers,
                R"({"username":"agent.angers","role":"delegue","services":["conseils"]})",
                referent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  r = c.request("POST", angers, R"({"username":"agent.angers","role":"delegue"})",
                referent.write_headers());
  BOOST_TEST(r->status == 409);
  r = c.request("GET", angers, "", {{"Cookie", referent.cookie}});
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  const auto listed = boost::json::parse(r->body);
  BOOST_TEST(listed.at("organisation").at("name").as_string() == "Angers");
  BOOST_TEST(listed.at("members").as_array().size() == 2u);
  // The délégué manages nothing; the référent nothing elsewhere (Cholet): 404 both.
  BOOST_TEST(c.request("GET", angers, "", {{"Cookie", delegue.cookie}})->status == 404);
  BOOST_TEST(c.request("POST", "/api/organisations/49099/members",
                       R"({"username":"agent.angers","role":"delegue"})", referent.write_headers())
                 ->status == 404);
  BOOST_TEST(c.request("DELETE", "/api/organisations/49099/members/agent.angers", "",
                       referent.write_headers())
                 ->status == 404);
  // Someone new is invited: by mail (this gateway has no relay, so not by the référent), or by
  // an operator's link, accepted once, that opens the account.
  r = c.request("POST", "/api/organisations/49007/invitations",
                R"({"email":"secretaire@mairie.invalid","role":"delegue","services":["conseils"]})",
                referent.write_headers());
  BOOST_TEST(r->status == 409, r->body);
  r = c.request("POST", "/api/organisations/49007/invitations",
                R"({"email":"secretaire@mairie.invalid","role":"delegue","services":["conseils"]})",
                op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  const std::string accept(boost::json::parse(r->body).at("accept").as_string());
  const std::vector<std::pair<std::string, std::string>> page{{"Origin", referent.origin},
                                                              {"Content-Type", "application/json"}};
  r = c.request(
      "POST", accept,
      R"({"username":"secretaire","password":"une phrase de passe solide","display_name":"Secrétaire"})",
      page);
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  r = c.request("POST", accept, R"({"username":"encore","password":"une phrase de passe solide"})",
                page);
  BOOST_TEST(r->status == 410);
  const Session invited = login(gw, "secretaire", "une phrase de passe solide");
  r = c.request("GET", "/api/me/organisations", "", {{"Cookie", invited.cookie}});
  BOOST_TEST(
      boost::json::parse(r->body).at("organisations").as_array().at(0).at("code").as_string() ==
      "49007");
  // The token never reaches the log.
  BOOST_TEST(gw.log().find(accept.substr(17, 43)) == std::string::npos);
  // The délégué sees their own organisations and services.
  r = c.request("GET", "/api/me/organisations", "", {{"Cookie", delegue.cookie}});
  const auto mine = boost::json::parse(r->body).at("organisations").as_array();
  BOOST_TEST_REQUIRE(mine.size() == 1u);
  BOOST_TEST(mine[0].at("role").as_string() == "delegue");
  BOOST_TEST(mine[0].at("services").as_array().at(0).as_string() == "conseils");
  // The last référent can neither leave nor be demoted, but by an operator.
  r = c.request("DELETE", angers + "/elu.angers", "", referent.write_headers());
  BOOST_TEST(r->status == 409, r->body);
  r = c.request("PUT", angers + "/elu.angers", R"({"role":"delegue"})", referent.write_headers());
  BOOST_TEST(r->status == 409, r->body);
  // A second référent: now the first may step down.
  r = c.request("PUT", angers + "/agent.angers", R"({"role":"referent","services":["conseils"]})",
                referent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  r = c.request("DELETE", angers + "/elu.angers", "", referent.write_headers());
  BOOST_TEST(r->status == 204, r->body);
  // The session that acted for Angers ended with the membership; a new one manages nothing.
  BOOST_TEST(c.request("GET", angers, "", {{"Cookie", referent.cookie}})->status == 401);
  const Session again = login(gw, "elu.angers", "passerelle-demo");
  BOOST_TEST(c.request("GET", angers, "", {{"Cookie", again.cookie}})->status == 404);
  r = c.request("DELETE", angers + "/agent.angers", "", op.write_headers());
  BOOST_TEST(r->status == 204);  // an operator may leave none
  BOOST_TEST(c.request("DELETE", angers + "/nobody", "", op.write_headers())->status == 404);
  BOOST_TEST(
      c.request("GET", "/api/organisations/00000/members", "", {{"Cookie", op.cookie}})->status ==
      404);
  // Audit-logged: who appointed whom (the log is read as it comes: waited for).
  BOOST_TEST(gw.wait_for_log("\"msg\":\"member removed\""), gw.log());
  const std::string log = gw.log();
  BOOST_TEST(log.find("\"msg\":\"member appointed\"") != std::string::npos);
  BOOST_TEST(log.find("\"member\":\"agent.angers\"") != std::string::npos);
}

namespace {
std::vector<std::string> widgets_of(TestConnection& c, const Session& s) {
  auto r = c.request("GET", "/api/dashboard", "", {{"Cookie", s.cookie}});
  BOOST_REQUIRE(r && r->status == 200);
  std::vector<std::string> names;
  const boost::json::value page = boost::json::parse(r->body);
  for (const auto& w : page.at("widgets").as_array())
    names.emplace_back(w.at("plugin").as_string());
  return names;
}
}  // namespace

// What a member may use follows their current organisation: a délégué uses the services granted
// there only (routes and dashboard); one of two organisations is switched to with one request;
// the users of a commune keep every service until its first référent is appointed; a removed
// délégué's session ends at its next request.
BOOST_AUTO_TEST_CASE(grants_follow_the_current_organisation) {
  TempDir dir;
  const std::string source = PASSERELLE_SOURCE_DIR;
  GatewayProcess gw("demo: true\nstore:\n  sqlite: " + fixture_store(dir) +
                    "\nplugins:\n  - name: conseils\n    library: " + module("conseils") +
                    "\n    config:\n      settings_file: " + source +
                    "/config/conseils.yaml\n  - name: hello\n    library: " + module("hello") +
                    "\n");
  BOOST_REQUIRE_MESSAGE(gw.wait_for_log("\"msg\":\"ready\""), gw.log());
  const Session op = login(gw, "operateur.demo", "passerelle-demo");
  const Session elu = login(gw, "elu.angers", "passerelle-demo");
  const Session agent = login(gw, "agent.angers", "passerelle-demo");
  TestConnection c(gw.https_port());
  const auto status = [&c](const Session& s, const std::string& target) {
    return c.request("GET", target, "", {{"Cookie", s.cookie}})->status;
  };

  // No référent in Angers yet: its users keep every service.
  BOOST_TEST(status(agent, "/api/hello/me") == 200);
  BOOST_TEST(status(agent, "/api/conseils/requests") == 200);
  BOOST_TEST(widgets_of(c, agent).size() == 2u);
  auto r = c.request("GET", "/api/me", "", {{"Cookie", agent.cookie}});
  BOOST_TEST(boost::json::parse(r->body).at("organisation").at("every_service").as_bool());

  // The first référent: Angers is now managed. Its référent has what they were given; its
  // other users, members of nothing yet, have nothing.
  r = c.request("POST", "/api/organisations/49007/members",
                R"({"username":"elu.angers","role":"referent","services":["conseils","hello"]})",
                op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  BOOST_TEST(status(agent, "/api/hello/me") == 403);
  r = c.request("GET", "/api/conseils/requests", "", {{"Cookie", agent.cookie}});
  BOOST_TEST(r->status == 403);
  BOOST_TEST(boost::json::parse(r->body).at("error").at("code").as_string() == "not_granted");
  BOOST_TEST(widgets_of(c, agent).empty());
  BOOST_TEST(status(elu, "/api/hello/me") == 200);

  // A délégué granted conseils only: conseils and its card, not hello.
  r = c.request("POST", "/api/organisations/49007/members",
                R"({"username":"agent.angers","role":"delegue","services":["conseils"]})",
                elu.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  BOOST_TEST(status(agent, "/api/conseils/requests") == 200);
  BOOST_TEST(status(agent, "/api/hello/me") == 403);
  BOOST_TEST((widgets_of(c, agent) == std::vector<std::string>{"conseils"}));
  r = c.request("GET", "/api/me", "", {{"Cookie", agent.cookie}});
  const auto me = boost::json::parse(r->body).at("organisation");
  BOOST_TEST(me.at("code").as_string() == "49007");
  BOOST_TEST(me.at("role").as_string() == "delegue");
  // Granted more: seen at the next request.
  r = c.request("PUT", "/api/organisations/49007/members/agent.angers",
                R"({"role":"delegue","services":["conseils","hello"]})", elu.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  BOOST_TEST(status(agent, "/api/hello/me") == 200);

  // A second organisation (Cholet, hello only): one request switches, the dashboard follows.
  r = c.request("POST", "/api/organisations/49099/members",
                R"({"username":"agent.angers","role":"delegue","services":["hello"]})",
                op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 201, r->body);
  r = c.request("POST", "/api/me/organisation", R"({"code":"49099"})", agent.write_headers());
  BOOST_TEST_REQUIRE(r->status == 200, r->body);
  BOOST_TEST(boost::json::parse(r->body).at("name").as_string() == "Cholet");
  r = c.request("GET", "/api/me", "", {{"Cookie", agent.cookie}});
  BOOST_TEST(boost::json::parse(r->body).at("commune_insee").as_string() == "49099");
  BOOST_TEST(status(agent, "/api/conseils/requests") == 403);
  BOOST_TEST((widgets_of(c, agent) == std::vector<std::string>{"hello"}));
  // Not a member there: refused, the session unchanged.
  r = c.request("POST", "/api/me/organisation", R"({"code":"49003"})", agent.write_headers());
  BOOST_TEST(r->status == 404);
  BOOST_TEST(status(agent, "/api/hello/me") == 200);

  // Removed from Cholet: the session acting for Cholet ends at its next request; a session
  // acting for Angers goes on.
  const Session other = login(gw, "agent.angers", "passerelle-demo");  // acts for Angers
  r = c.request("DELETE", "/api/organisations/49099/members/agent.angers", "", op.write_headers());
  BOOST_TEST_REQUIRE(r->status == 204, r->body);
  BOOST_TEST(status(agent, "/api/hello/me") == 401);
  BOOST_TEST(status(other, "/api/conseils/requests") == 200);
}

BOOST_AUTO_TEST_SUITE_END()
