// The offers plugin through its real library, with the directorates plugin beside it (leads are
// routed through the host), on the fixture's territories: the catalogue, eligibility with its
// reasons, operators' edits and CSV imports, leads and their duplicates, and who may do what.
#include "support/app_fixture.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace passerelle::test;

namespace {

std::string offers_entry() {
  return "  - name: offers\n    library: " + module("offers") +
         "\n    config:\n      catalogue_file: " + std::string(PASSERELLE_SOURCE_DIR) +
         "/config/offers.yaml\n";
}

std::string directorates_entry() {
  return "  - name: directorates\n    library: " + module("directorates") +
         "\n    config:\n      data_file: " + std::string(PASSERELLE_TEST_FIXTURES) +
         "/directorates/directorates.yaml\n";
}

struct Offers : AppFixture {
  explicit Offers(bool with_directorates = true) {
    start(offers_entry() + (with_directorates ? directorates_entry() : ""));
  }
  static Identity person(const std::string& subject, const std::string& role,
                         const std::string& commune) {
    Identity id = make_identity({role});
    id.subject = subject;
    id.display_name = subject;
    id.commune_insee = commune;
    return id;
  }
  Response as(const Identity& who, const std::string& method, const std::string& target,
              const std::string& body = "", const std::string& type = "application/json") {
    identity = who;
    return call(method, target, body, type);
  }
  // The offer `id` in an eligibility answer.
  static boost::json::object offer_in(const Response& r, const std::string& id) {
    const auto parsed = json(r);
    for (const auto& o : parsed.at("offers").as_array())
      if (o.at("id").as_string() == id) return o.as_object();
    BOOST_FAIL("no offer " + id);
    return {};
  }
  static std::vector<std::string> reasons(const boost::json::object& o) {
    std::vector<std::string> out;
    for (const auto& r : o.at("reasons").as_array()) out.emplace_back(r.as_string());
    return out;
  }

  const Identity agent = person("u-agent", "agent", "49002");  // Allonnes, 2,911 inhabitants
  const Identity angers = person("u-elu", "elu", "49007");     // Angers, 159,022
  const Identity advisor = person("u-adv", "advisor", "");
  const Identity op = person("u-op", "operator", "");
};

struct OffersAlone : Offers {
  OffersAlone() : Offers(false) {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(offers_plugin)

BOOST_FIXTURE_TEST_CASE(the_catalogue_and_its_filters, Offers) {
  auto all = json(as(agent, "GET", "/api/offers")).at("offers").as_array();
  BOOST_TEST(all.size() == 5u);
  BOOST_TEST(
      json(as(agent, "GET", "/api/offers?kind=engineering")).at("offers").as_array().size() == 2u);
  auto water = json(as(agent, "GET", "/api/offers?theme=eau")).at("offers").as_array();
  BOOST_TEST_REQUIRE(water.size() == 1u);
  BOOST_TEST(water[0].at("id").as_string() == "aqua-pret");
  BOOST_TEST(json(as(agent, "GET", "/api/offers?q=MOBILIT")).at("offers").as_array().size() == 1u);
  BOOST_TEST(as(agent, "GET", "/api/offers?kind=gift").status == 400);
  const auto edu = json(as(agent, "GET", "/api/offers/edu-pret"));
  BOOST_TEST(edu.at("max_duration_years").as_int64() == 40);
  BOOST_TEST(as(agent, "GET", "/api/offers/nothing").status == 404);
}

BOOST_FIXTURE_TEST_CASE(eligibility_with_reasons_best_first, Offers) {
  const Response small = as(agent, "GET", "/api/offers/eligible");
  BOOST_TEST_REQUIRE(small.status == 200, small.body);
  // Allonnes is in the demo sample of Petites villes de demain: eligible, first (its rule says
  // the most about the commune), with its reasons.
  const auto first = json(small).at("offers").as_array().at(0).as_object();
  BOOST_TEST(first.at("id").as_string() == "petites-villes-de-demain");
  BOOST_TEST(first.at("eligible").as_bool());
  const auto why = reasons(first);
  BOOST_TEST_REQUIRE(why.size() == 3u);
  BOOST_TEST(why[1] == "population 2 911 sous le plafond de 20 000");
  BOOST_TEST(why[2] == "membre du programme Petites villes de demain");
  const auto acv = offer_in(small, "action-coeur-de-ville");
  BOOST_TEST(!acv.at("eligible").as_bool());
  BOOST_TEST(reasons(acv).at(0) == "hors du programme Action cœur de ville");
  // Angers: too large for the programme, and said so.
  const auto pvd = offer_in(as(angers, "GET", "/api/offers/eligible"), "petites-villes-de-demain");
  BOOST_TEST(!pvd.at("eligible").as_bool());
  BOOST_TEST(reasons(pvd).at(0) == "population 159 022 au-dessus du plafond de 20 000");
  // Another commune: advisors and operators only.
  BOOST_TEST(as(agent, "GET", "/api/offers/eligible?commune=49007").status == 403);
  BOOST_TEST(as(advisor, "GET", "/api/offers/eligible?commune=49007").status == 200);
  BOOST_TEST(as(op, "GET", "/api/offers/eligible?commune=99999").status == 404);
  BOOST_TEST(as(advisor, "GET", "/api/offers/eligible").status == 422);  // no commune of their own
  // The commune's intercommunality (CA Saumur Val de Loire, 98,152 inhabitants): the programmes
  // for towns are not for it, the loans are.
  const Response epci = as(agent, "GET", "/api/offers/eligible?scope=epci");
  BOOST_TEST_REQUIRE(epci.status == 200, epci.body);
  BOOST_TEST(json(epci).at("epci").at("name").as_string() == "CA Saumur Val de Loire");
  BOOST_TEST(reasons(offer_in(epci, "petites-villes-de-demain")).at(0) == "réservé aux communes");
  const auto aqua = offer_in(epci, "aqua-pret");
  BOOST_TEST(aqua.at("eligible").as_bool());
  BOOST_TEST(reasons(aqua).at(0) == "intercommunalité");
  BOOST_TEST(as(agent, "GET", "/api/offers/eligible?epci=244900015").status == 403);
  BOOST_TEST(as(op, "GET", "/api/offers/eligible?epci=244900015").status == 200);
  BOOST_TEST(as(op, "GET", "/api/offers/eligible?epci=000000000").status == 404);
  // The dashboard card: the eligible ones, best first.
  auto card = run(host.table()->plugins.at(0)->plugin().widget(agent));
  BOOST_TEST_REQUIRE(card.has_value());
  BOOST_TEST(card->at("offers").as_array().at(0).at("id").as_string() ==
             "petites-villes-de-demain");
}

BOOST_FIXTURE_TEST_CASE(operators_edit_with_field_level_errors, Offers) {
  const std::string good =
      R"({"id":"fonds-test","title":"Fonds test","kind":"financing","summary":"Un fonds.",)"
      R"("themes":["eau"],"eligibility":{"all":[{"population":{"max":5000}},{"region":["52"]}]}})";
  BOOST_TEST(as(agent, "POST", "/api/offers", good).status == 403);
  auto bad = as(op, "POST", "/api/offers",
                R"({"id":"x","title":"X","kind":"financing","summary":"S",)"
                R"("eligibility":{"all":[{"populaton":{"max":3}}]}})");
  BOOST_TEST(bad.status == 422);
  BOOST_TEST(std::string(json(bad).at("error").at("message").as_string())
                 .find("eligibility.all[0].populaton: unknown condition") == 0);
  bad = as(op, "POST", "/api/offers",
           R"({"id":"x","title":"X","kind":"gift","summary":"S","eligibility":{"kind":"epci"}})");
  BOOST_TEST(std::string(json(bad).at("error").at("message").as_string()) ==
             "kind: financing or engineering");
  bad = as(
      op, "POST", "/api/offers",
      R"({"id":"x","title":"X","kind":"financing","summary":"S","colour":"red","eligibility":{"kind":"epci"}})");
  BOOST_TEST(std::string(json(bad).at("error").at("message").as_string()) ==
             "colour: unknown field");
  bad = as(
      op, "POST", "/api/offers",
      R"({"id":"x","title":"X","kind":"financing","summary":"S","eligibility":{"programme":"inconnu"}})");
  BOOST_TEST(std::string(json(bad).at("error").at("message").as_string()) ==
             "eligibility.programme: no programme \"inconnu\"");
  BOOST_TEST(as(op, "POST", "/api/offers", good).status == 201);
  BOOST_TEST(as(op, "POST", "/api/offers", good).status == 409);
  // A replacement says which version it read.
  BOOST_TEST(std::string(json(as(op, "PUT", "/api/offers/fonds-test", good))
                             .at("error")
                             .at("message")
                             .as_string()) == "version: the version read is required");
  std::string current = good;
  current.insert(current.size() - 1, R"(,"version":1)");
  BOOST_TEST(as(op, "PUT", "/api/offers/fonds-test", current).status == 200);
  BOOST_TEST(as(op, "PUT", "/api/offers/fonds-test", current).status == 409);  // now version 2
  BOOST_TEST(
      offer_in(as(agent, "GET", "/api/offers/eligible"), "fonds-test").at("eligible").as_bool());
  // A rule on the project's theme: decided by the theme the caller gives.
  const std::string themed =
      R"({"id":"fonds-eau","title":"Fonds eau","kind":"financing","summary":"Un fonds.",)"
      R"("eligibility":{"theme":["eau"]}})";
  BOOST_TEST(as(op, "POST", "/api/offers", themed).status == 201);
  BOOST_TEST(offer_in(as(agent, "GET", "/api/offers/eligible?theme=eau"), "fonds-eau")
                 .at("eligible")
                 .as_bool());
  const auto other = offer_in(as(agent, "GET", "/api/offers/eligible?theme=mobilite"), "fonds-eau");
  BOOST_TEST(!other.at("eligible").as_bool());
  BOOST_TEST(reasons(other).at(0) == "projet hors des thèmes eau");
  // An update on an old read: 409; then archived: gone from the catalogue.
  std::string stale = good;
  stale.insert(stale.size() - 1, R"(,"version":7)");
  BOOST_TEST(as(op, "PUT", "/api/offers/fonds-test", stale).status == 409);
  BOOST_TEST(as(op, "POST", "/api/offers/fonds-test/archive").status == 200);
  BOOST_TEST(as(agent, "GET", "/api/offers/fonds-test").status == 404);
}

BOOST_FIXTURE_TEST_CASE(programme_lists_from_csv, Offers) {
  const std::string path = "/api/offers/programmes/action-coeur-de-ville/members";
  auto r = as(op, "POST", path, "insee\n49007\n99999\n49007\n49002;49003\n", "text/csv");
  BOOST_TEST(r.status == 422);
  const std::string message(json(r).at("error").at("message").as_string());
  BOOST_TEST(message ==
                 "ligne 3 : 99999 n'est ni une commune ni une intercommunalité connue ; ligne 4 : "
                 "49007 en double ; "
                 "ligne 5 : un seul code INSEE par ligne",
             message);
  // Nothing changed: Angers is still outside the programme.
  BOOST_TEST(!offer_in(as(angers, "GET", "/api/offers/eligible"), "action-coeur-de-ville")
                  .at("eligible")
                  .as_bool());
  BOOST_TEST(as(agent, "POST", path, "49007\n", "text/csv").status == 403);
  r = as(op, "POST", path, "# liste 2026\r\n49007\r\n49099\r\n", "text/csv");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(json(r).at("members").as_int64() == 2);
  BOOST_TEST(offer_in(as(angers, "GET", "/api/offers/eligible"), "action-coeur-de-ville")
                 .at("eligible")
                 .as_bool());
  const auto listed = json(as(op, "GET", "/api/offers/programmes")).at("programmes").as_array();
  BOOST_TEST(listed.size() == 2u);
  BOOST_TEST(as(op, "POST", "/api/offers/programmes/nope/members", "49007\n", "text/csv").status ==
             404);
}

BOOST_FIXTURE_TEST_CASE(an_interest_becomes_one_lead_routed_to_the_directorate, Offers) {
  auto r = as(agent, "POST", "/api/offers/edu-pret/interest", R"({"message":"École à rénover."})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const auto lead = json(r);
  BOOST_TEST(lead.at("directorate").as_string() == "pays-de-la-loire");
  BOOST_TEST(lead.at("directorate_contact").at("email").as_string() ==
             "dr-pdl@demo.passerelle.invalid");
  BOOST_TEST(lead.at("eligible").as_bool());
  // A second click: the same lead.
  r = as(agent, "POST", "/api/offers/edu-pret/interest", "");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(json(r).at("id") == lead.at("id"));
  BOOST_TEST(json(as(agent, "GET", "/api/offers/leads")).at("leads").as_array().size() == 1u);
  BOOST_TEST(json(as(angers, "GET", "/api/offers/leads")).at("leads").as_array().empty());
  BOOST_TEST(json(as(op, "GET", "/api/offers/leads?directorate=pays-de-la-loire"))
                 .at("leads")
                 .as_array()
                 .size() == 1u);
  BOOST_TEST(as(advisor, "POST", "/api/offers/edu-pret/interest", "").status == 403);
  BOOST_TEST(as(agent, "POST", "/api/offers/nothing/interest", "").status == 404);
  BOOST_TEST(
      as(agent, "POST", "/api/offers/edu-pret/interest", "{\"message\":\"a\\u0000\"}").status ==
      422);
}

BOOST_FIXTURE_TEST_CASE(a_lead_becomes_a_financing_request_and_its_history, Offers) {
  const auto lead = json(as(agent, "POST", "/api/offers/edu-pret/interest", ""));
  const std::string from_lead =
      "/api/offers/leads/" + std::string(lead.at("id").as_string()) + "/request";
  auto r = as(agent, "POST", from_lead);
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const std::string id(json(r).at("id").as_string());
  const std::string at = "/api/offers/requests/" + id;
  BOOST_TEST(json(r).at("status").as_string() == "draft");
  BOOST_TEST(as(agent, "POST", from_lead).status == 200);  // the same, not a second one
  BOOST_TEST(json(as(agent, "GET", "/api/offers/requests")).at("requests").as_array().size() == 1u);
  // Another commune's élu: no such request; an operator neither (not a party).
  BOOST_TEST(as(angers, "GET", at).status == 404);
  BOOST_TEST(as(angers, "POST", from_lead).status == 404);
  BOOST_TEST(as(op, "GET", at).status == 403);
  BOOST_TEST(as(advisor, "GET", at).status == 404);  // the bank sees it once sent
  // A draft goes only complete; the bank sees no draft in its queue.
  BOOST_TEST(error_code(as(agent, "POST", at + "/submit")) == "incomplete");
  BOOST_TEST(json(as(advisor, "GET", "/api/offers/requests")).at("requests").as_array().empty());
  // Edu Prêt runs over 40 years at most: 45 is refused, naming it.
  BOOST_TEST(std::string(json(as(agent, "PUT", at, R"({"duration_years":45})"))
                             .at("error")
                             .at("message")
                             .as_string()) == "duration_years: Edu Prêt court sur 40 ans au plus");
  r = as(agent, "PUT", at,
         R"({"project":"Rénovation de l'école","amount_eur":450000,"duration_years":25})");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(json(r).at("version").as_int64() == 2);
  BOOST_TEST(as(agent, "PUT", at, R"({"duration_years":99})").status == 422);
  identity = agent;
  BOOST_TEST(
      call("PUT", at, R"({"amount_eur":1})", "application/json", {{"if-match", "\"1\""}}).status ==
      412);
  BOOST_TEST(as(advisor, "POST", at + "/submit").status == 404);  // a draft: not the bank's yet
  BOOST_TEST(as(agent, "POST", at + "/submit").status == 200);
  r = as(agent, "POST", at + "/submit");
  BOOST_TEST(r.status == 409);
  BOOST_TEST(std::string(json(r).at("error").at("message").as_string()) ==
             "a request submitted cannot be submitted");
  BOOST_TEST(as(agent, "PUT", at, R"({"amount_eur":1})").status == 409);  // no longer a draft
  BOOST_TEST(as(agent, "POST", at + "/review").status == 403);
  BOOST_TEST(as(advisor, "POST", at + "/review").status == 200);
  BOOST_TEST(as(advisor, "POST", at + "/sign").status == 409);
  BOOST_TEST(as(advisor, "POST", at + "/decide", R"({"decision":"declined"})").status == 422);
  BOOST_TEST(
      as(advisor, "POST", at + "/decide", R"({"decision":"granted","reason":"Projet complet."})")
          .status == 200);
  r = as(advisor, "POST", at + "/sign");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  const auto done = json(r);
  BOOST_TEST(done.at("status").as_string() == "contract_signed");
  BOOST_TEST(done.at("decision").as_string() == "granted");
  const auto history = done.at("history").as_array();
  BOOST_TEST_REQUIRE(history.size() == 5u);
  BOOST_TEST(history[0].at("to").as_string() == "draft");
  BOOST_TEST(history[3].at("note").as_string() == "granted");
  BOOST_TEST(history[4].at("by").as_string() == "u-adv");
  // The élu follows it on the dashboard.
  auto card = run(host.table()->plugins.at(0)->plugin().widget(agent));
  BOOST_TEST(card->at("requests").as_array().at(0).at("status").as_string() == "contract_signed");
}

BOOST_FIXTURE_TEST_CASE(a_declined_request_is_not_signed, Offers) {
  const auto lead = json(as(agent, "POST", "/api/offers/mobi-pret/interest", ""));
  const auto r =
      as(agent, "POST", "/api/offers/leads/" + std::string(lead.at("id").as_string()) + "/request");
  const std::string at = "/api/offers/requests/" + std::string(json(r).at("id").as_string());
  as(agent, "PUT", at, R"({"project":"Pistes cyclables","amount_eur":90000,"duration_years":15})");
  BOOST_TEST(as(agent, "POST", at + "/submit").status == 200);
  BOOST_TEST(as(advisor, "POST", at + "/review").status == 200);
  BOOST_TEST(as(advisor, "POST", at + "/decide",
                R"({"decision":"declined","reason":"Hors du périmètre du prêt."})")
                 .status == 200);
  const auto refused = as(advisor, "POST", at + "/sign");
  BOOST_TEST(refused.status == 409);
  BOOST_TEST(std::string(json(refused).at("error").at("message").as_string()) ==
             "a request decided (declined) cannot be signed");
  BOOST_TEST(json(as(agent, "GET", at)).at("reason").as_string() == "Hors du périmètre du prêt.");
  BOOST_TEST(as(agent, "GET", "/api/offers/requests/not-an-id").status == 404);
}

BOOST_FIXTURE_TEST_CASE(without_the_directorates_plugin_no_lead_is_made, OffersAlone) {
  const auto r = as(agent, "POST", "/api/offers/edu-pret/interest", "");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(error_code(r) == "directorates_unavailable");
  BOOST_TEST(json(as(agent, "GET", "/api/offers/leads")).at("leads").as_array().empty());
}

BOOST_AUTO_TEST_CASE(a_bad_catalogue_names_its_line) {
  AppFixture f;
  f.dir.write("offers.yaml",
              "programmes: []\noffers:\n  - id: x\n    title: X\n    kind: financing\n"
              "    summary: S\n    eligibility:\n      population: {maxi: 3}\n");
  f.start("  - name: offers\n    library: " + module("offers") +
          "\n    config:\n      catalogue_file: " + f.dir.path() + "/offers.yaml\n");
  const auto& plugin = f.host.table()->plugins.at(0);
  BOOST_TEST(plugin->failure().find("offers.yaml:8:20: offer x, eligibility.population.maxi: "
                                    "unknown operator (min, max)") != std::string::npos,
             plugin->failure());
}

BOOST_AUTO_TEST_SUITE_END()
