// The conseils plugin through its real library, on the fixture's store (SQLite, and PostgreSQL
// in the .postgresql run): eligibility, the workflow and its history, who sees what (404 for
// anyone else, ids not guessable), concurrent edits, internal notes, operators' counts.
#include "support/app_fixture.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;
using namespace passerelle::test;

namespace {

struct Conseils : AppFixture {
  // `also`: more plugins to load beside it (their config entries).
  explicit Conseils(const std::string& also = "") {
    dir.write("conseils.yaml",
              "max_population: 10000\n"
              "themes:\n"
              "  - {id: urbanisme, label: Urbanisme, days: 15}\n"
              "  - {id: finances-locales, label: Finances locales, days: 10}\n"
              "advisors:\n"
              "  - {email: Conseiller@Demo.invalid, themes: [urbanisme]}\n"
              "  - {email: collegue@demo.invalid, themes: [all]}\n");
    start("  - name: conseils\n    library: " + module("conseils") +
          "\n    config:\n      settings_file: " + dir.path() + "/conseils.yaml\n" + also);
  }

  static Identity person(const std::string& subject, const std::string& role,
                         const std::string& commune, const std::string& email = {}) {
    Identity id = make_identity({role});
    id.subject = subject;
    id.display_name = subject;
    id.commune_insee = commune;
    id.email = email;
    return id;
  }

  Response as(const Identity& who, const std::string& method, const std::string& target,
              const std::string& body = "",
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    identity = who;
    return call(method, target, body, "application/json", headers);
  }

  // An agent of Allonnes (2,911 inhabitants) files a request on urbanism.
  std::string filed() {
    const Response r = as(agent, "POST", "/api/conseils/requests",
                          R"({"subject":"Permis de construire","question":"Quel délai ?",)"
                          R"("theme":"urbanisme"})");
    BOOST_TEST_REQUIRE(r.status == 201, r.body);
    return std::string(json(r).at("id").as_string());
  }

  const Identity agent = person("u-agent", "agent", "49002");
  const Identity elu = person("u-elu", "elu", "49002");
  const Identity stranger = person("u-angrie", "agent", "49008");
  const Identity advisor = person("u-adv", "advisor", "", "conseiller@demo.invalid");
  const Identity colleague = person("u-col", "advisor", "", "collegue@demo.invalid");
  const Identity unlisted = person("u-other", "advisor", "", "autre@demo.invalid");
  const Identity op = person("u-op", "operator", "");
};

}  // namespace

BOOST_AUTO_TEST_SUITE(conseils_plugin)

BOOST_FIXTURE_TEST_CASE(a_large_commune_is_sent_to_its_directorate, Conseils) {
  const Response r = as(person("u-angers", "elu", "49007"), "POST", "/api/conseils/requests",
                        R"({"subject":"S","question":"Q","theme":"urbanisme"})");
  BOOST_TEST(r.status == 422);
  BOOST_TEST(error_code(r) == "not_eligible");
  const std::string message(json(r).at("error").at("message").as_string());
  BOOST_TEST(message.find("moins de 10000 habitants") != std::string::npos, message);
  // No directorates plugin here: the way to it instead of its contact.
  BOOST_TEST(message.find("voir /api/directorates/mine") != std::string::npos, message);
  BOOST_TEST(message.find("Angers") != std::string::npos, message);
  // Bad input: named fields, nothing stored.
  BOOST_TEST(as(agent, "POST", "/api/conseils/requests", R"({"subject":"S","theme":"urbanisme"})")
                 .status == 422);
  BOOST_TEST(as(agent, "POST", "/api/conseils/requests",
                R"({"subject":"S","question":"Q","theme":"astrologie"})")
                 .status == 422);
  BOOST_TEST(as(agent, "POST", "/api/conseils/requests", "[1]").status == 400);
  BOOST_TEST(json(as(advisor, "GET", "/api/conseils/requests")).at("requests").as_array().empty());
}

// The directorates plugin loaded too: the refusal names the directorate, asked of it through
// the host (Host::lookup), and so does the card; the plugins never link each other.
struct ConseilsAndDirectorates : Conseils {
  ConseilsAndDirectorates()
      : Conseils("  - name: directorates\n    library: " + module("directorates") +
                 "\n    config:\n      data_file: " + std::string(PASSERELLE_TEST_FIXTURES) +
                 "/directorates/directorates.yaml\n") {}
};

BOOST_FIXTURE_TEST_CASE(the_directorate_is_named_through_the_host, ConseilsAndDirectorates) {
  const Identity angers = person("u-angers", "elu", "49007");
  const Response r = as(angers, "POST", "/api/conseils/requests",
                        R"({"subject":"S","question":"Q","theme":"urbanisme"})");
  BOOST_TEST(r.status == 422);
  const std::string message(json(r).at("error").at("message").as_string());
  BOOST_TEST(message.find("Direction régionale Pays de la Loire, +33 2 61 91 52 00, "
                          "dr-pdl@demo.passerelle.invalid") != std::string::npos,
             message);
  auto card = run(host.table()->plugins.at(0)->plugin().widget(angers));
  BOOST_TEST_REQUIRE(card.has_value());
  BOOST_TEST(std::string(card->at("text").as_string()).find("dr-pdl@demo.passerelle.invalid") !=
             std::string::npos);
}

// The directorates plugin failed to start (its seed is missing): its service is not offered,
// and the refusal names the route instead.
struct ConseilsAndBrokenDirectorates : Conseils {
  ConseilsAndBrokenDirectorates()
      : Conseils("  - name: directorates\n    library: " + module("directorates") +
                 "\n    config:\n      data_file: /nonexistent/directorates.yaml\n") {}
};

BOOST_FIXTURE_TEST_CASE(a_directorates_plugin_that_failed_is_not_asked,
                        ConseilsAndBrokenDirectorates) {
  BOOST_TEST((host.table()->plugins.at(1)->state() == LoadedPlugin::State::failed));
  const Response r = as(person("u-angers", "elu", "49007"), "POST", "/api/conseils/requests",
                        R"({"subject":"S","question":"Q","theme":"urbanisme"})");
  BOOST_TEST(r.status == 422);
  const std::string message(json(r).at("error").at("message").as_string());
  BOOST_TEST(message.find("voir /api/directorates/mine") != std::string::npos, message);
}

BOOST_FIXTURE_TEST_CASE(the_workflow_and_its_history, Conseils) {
  const std::string id = filed();
  BOOST_TEST(id.size() == 32u);
  const std::string at = "/api/conseils/requests/" + id;
  auto r = as(elu, "GET", at);  // the same commune's élu sees it
  BOOST_TEST_REQUIRE(r.status == 200);
  BOOST_TEST(json(r).at("status").as_string() == "submitted");
  BOOST_TEST(json(r).at("overdue").as_bool() == false);
  // Not an advisor's: the requester cannot answer; nor answer before it is assigned.
  BOOST_TEST(as(agent, "POST", at + "/answer", R"({"answer":"x"})").status == 403);
  r = as(advisor, "POST", at + "/answer", R"({"answer":"x"})");
  BOOST_TEST(r.status == 409);
  BOOST_TEST(std::string(json(r).at("error").at("message").as_string()) ==
             "a request submitted cannot be answered");
  // Assigned to the advisor, handed to a colleague, answered by the colleague.
  BOOST_TEST(as(advisor, "POST", at + "/assign").status == 200);
  r = as(advisor, "POST", at + "/assign", R"({"advisor_email":"collegue@demo.invalid"})");
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(as(advisor, "POST", at + "/answer", R"({"answer":"x"})").status == 403);
  r = as(colleague, "POST", at + "/answer", R"({"answer":"Deux mois, article R423-23."})");
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  BOOST_TEST(json(r).at("answer").as_string() == "Deux mois, article R423-23.");
  // Withdrawn after the answer: no.
  BOOST_TEST(as(agent, "POST", at + "/withdraw").status == 409);
  BOOST_TEST(as(agent, "POST", at + "/reopen").status == 200);
  BOOST_TEST(as(colleague, "POST", at + "/assign").status == 200);
  BOOST_TEST(as(colleague, "POST", at + "/answer", R"({"answer":"Précision."})").status == 200);
  r = as(agent, "POST", at + "/close");
  BOOST_TEST_REQUIRE(r.status == 200);
  const auto history = json(r).at("history").as_array();
  std::vector<std::string> path;
  for (const auto& h : history) path.emplace_back(h.at("to").as_string());
  const std::vector<std::string> expected{"submitted", "assigned", "assigned", "answered",
                                          "reopened",  "assigned", "answered", "closed"};
  BOOST_TEST(path == expected, boost::test_tools::per_element());
  BOOST_TEST(history.at(3).at("from").as_string() == "assigned");
  BOOST_TEST(history.at(0).at("from").is_null());
  BOOST_TEST(as(agent, "POST", at + "/fly").status == 404);
  // The queue holds what waits on the advisors; a closed request is found by its status.
  BOOST_TEST(
      json(as(colleague, "GET", "/api/conseils/requests")).at("requests").as_array().empty());
  BOOST_TEST(json(as(colleague, "GET", "/api/conseils/requests?status=closed"))
                 .at("requests")
                 .as_array()
                 .size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(nobody_else_sees_a_request, Conseils) {
  const std::string id = filed();
  const std::string at = "/api/conseils/requests/" + id;
  // Another commune's agent, an advisor of other themes, a guessed id: 404, never 403.
  BOOST_TEST(as(stranger, "GET", at).status == 404);
  BOOST_TEST(as(stranger, "POST", at + "/withdraw").status == 404);
  BOOST_TEST(as(stranger, "POST", at + "/messages", R"({"body":"coucou"})").status == 404);
  BOOST_TEST(json(as(stranger, "GET", "/api/conseils/requests")).at("requests").as_array().empty());
  BOOST_TEST(as(unlisted, "GET", at).status == 404);
  BOOST_TEST(json(as(unlisted, "GET", "/api/conseils/requests")).at("requests").as_array().empty());
  BOOST_TEST(as(agent, "GET", "/api/conseils/requests/" + std::string(32, 'a')).status == 404);
  const int traversal = as(agent, "GET", "/api/conseils/requests/..%2F..%2Fetc").status;
  BOOST_TEST((traversal == 400 || traversal == 404), traversal);
  // An advisor of finances only does not see an urbanism request.
  filed();
  const Response finance =
      as(agent, "POST", "/api/conseils/requests",
         R"({"subject":"Budget","question":"Quelle règle ?","theme":"finances-locales"})");
  BOOST_TEST_REQUIRE(finance.status == 201);
  const std::string finance_id(json(finance).at("id").as_string());
  BOOST_TEST(as(advisor, "GET", "/api/conseils/requests/" + finance_id).status == 404);
  BOOST_TEST(json(as(advisor, "GET", "/api/conseils/requests")).at("requests").as_array().size() ==
             2u);
  BOOST_TEST(
      json(as(colleague, "GET", "/api/conseils/requests")).at("requests").as_array().size() == 3u);
  // Operators: counts, not contents.
  BOOST_TEST(as(op, "GET", at).status == 403);
  BOOST_TEST(as(op, "GET", "/api/conseils/requests").status == 403);
  const auto stats = json(as(op, "GET", "/api/conseils/stats"));
  std::int64_t total = 0;
  for (const auto& c : stats.at("counts").as_array()) total += c.at("requests").as_int64();
  BOOST_TEST(total == 3);
  BOOST_TEST(stats.as_object().size() == 2u);  // counts and overdue, nothing else
  BOOST_TEST(as(agent, "GET", "/api/conseils/stats").status == 403);
  // The queue's filters.
  BOOST_TEST(json(as(colleague, "GET", "/api/conseils/requests?theme=finances-locales"))
                 .at("requests")
                 .as_array()
                 .size() == 1u);
  BOOST_TEST(as(colleague, "GET", "/api/conseils/requests?status=lost").status == 400);
  BOOST_TEST(json(as(colleague, "GET", "/api/conseils/requests?older_than_days=1"))
                 .at("requests")
                 .as_array()
                 .empty());
}

BOOST_FIXTURE_TEST_CASE(concurrent_edits_and_internal_notes, Conseils) {
  const std::string id = filed();
  const std::string at = "/api/conseils/requests/" + id;
  const Response read = as(advisor, "GET", at);
  std::string tag;
  for (const auto& [name, value] : read.headers)
    if (name == "ETag") tag = value;
  BOOST_TEST_REQUIRE(!tag.empty());
  // A message meanwhile is no change of the request: a move on that read still goes. A move
  // by a colleague is: the advisor's move on the old read is 412, and nothing of it is written.
  BOOST_TEST(as(agent, "POST", at + "/messages", R"({"body":"Une pièce de plus."})").status == 200);
  BOOST_TEST(as(colleague, "POST", at + "/assign", "", {{"if-match", tag}}).status == 200);
  BOOST_TEST(as(advisor, "POST", at + "/assign", "", {{"if-match", tag}}).status == 412);
  auto now = json(as(advisor, "GET", at));
  BOOST_TEST(now.at("status").as_string() == "assigned");
  BOOST_TEST(now.at("advisor_name").as_string() == "u-col");
  BOOST_TEST(now.at("history").as_array().size() == 2u);
  // Control characters are refused; a question's line breaks are kept.
  BOOST_TEST(as(agent, "POST", at + "/messages", "{\"body\":\"a\\u0000b\"}").status == 422);
  BOOST_TEST(as(agent, "POST", "/api/conseils/requests",
                "{\"subject\":\"a\\rb\",\"question\":\"q\",\"theme\":\"urbanisme\"}")
                 .status == 422);
  // An internal note: the advisors' only; a requester cannot write one.
  BOOST_TEST(as(advisor, "POST", at + "/messages",
                R"({"body":"À voir avec le juriste.",)"
                R"("internal":true})")
                 .status == 200);
  BOOST_TEST(as(agent, "POST", at + "/messages", R"({"body":"x","internal":true})").status == 403);
  const auto seen_by_agent = json(as(agent, "GET", at)).at("messages").as_array();
  const auto seen_by_advisor = json(as(advisor, "GET", at)).at("messages").as_array();
  BOOST_TEST(seen_by_agent.size() == 1u);
  BOOST_TEST(seen_by_advisor.size() == 2u);
  // At most 200 messages on a request: the next one is refused, nothing else changes.
  int accepted = 0;
  while (as(agent, "POST", at + "/messages", R"({"body":"encore"})").status == 200 &&
         accepted < 300)
    ++accepted;
  BOOST_TEST(accepted == 198);  // two were there
  BOOST_TEST(error_code(as(agent, "POST", at + "/messages", R"({"body":"encore"})")) ==
             "too_many_messages");
  // The widgets.
  auto plugin = host.table()->plugins.at(0);
  auto mine = run(plugin->plugin().widget(agent));
  BOOST_TEST_REQUIRE(mine.has_value());
  BOOST_TEST(mine->at("title").as_string() == "Mes demandes");
  // Its news: the colleague took the request (the agent's own messages are no news).
  const auto news = mine->at("news").as_array();
  BOOST_TEST_REQUIRE(news.size() == 1u);
  BOOST_TEST(news[0].at("status").as_string() == "assigned");
  BOOST_TEST(news[0].at("by").as_string() == "u-col");
  BOOST_TEST(news[0].at("request").as_string() == id);
  // A commune the service is not for is told so on its card.
  auto large = run(plugin->plugin().widget(person("u-angers", "elu", "49007")));
  BOOST_TEST_REQUIRE(large.has_value());
  BOOST_TEST(std::string(large->at("text").as_string()).find("moins de 10000 habitants") !=
             std::string::npos);
  auto queue = run(plugin->plugin().widget(colleague));
  BOOST_TEST_REQUIRE(queue.has_value());
  BOOST_TEST(queue->at("waiting").as_int64() == 1);
  BOOST_TEST(queue->at("assigned_to_me").as_int64() == 1);
  // Its news: the filing of the request now in their charge (their own move is no news).
  BOOST_TEST_REQUIRE(queue->at("news").as_array().size() == 1u);
  BOOST_TEST(queue->at("news").as_array()[0].at("status").as_string() == "submitted");
  // An advisor who filed a request for their commune is its requester there: they cannot
  // take or answer it.
  Identity both = advisor;
  both.roles = {"advisor", "elu"};
  both.commune_insee = "49002";
  const Response own = as(both, "POST", "/api/conseils/requests",
                          R"({"subject":"S","question":"Q","theme":"urbanisme"})");
  BOOST_TEST_REQUIRE(own.status == 201, own.body);
  const std::string own_at =
      "/api/conseils/requests/" + std::string(json(own).at("id").as_string());
  BOOST_TEST(as(both, "POST", own_at + "/assign").status == 403);
  BOOST_TEST(as(both, "POST", own_at + "/withdraw").status == 200);  // theirs to withdraw
  // A listed address shown by an account of another provider makes no advisor.
  Identity lookalike = advisor;
  lookalike.provider = "keycloak";
  BOOST_TEST(as(lookalike, "GET", at).status == 404);
  BOOST_TEST(!run(plugin->plugin().widget(lookalike)).has_value());
  // An advisor's role without a listing (and a commune) sees no commune's requests.
  Identity odd = unlisted;
  odd.commune_insee = "49002";
  BOOST_TEST(json(as(odd, "GET", "/api/conseils/requests")).at("requests").as_array().empty());
}

// An answered request published by an advisor: anonymised, found in French by anyone logged
// in (stems, no accents), taken out again; only answered requests, only by an advisor.
BOOST_FIXTURE_TEST_CASE(the_knowledge_base, Conseils) {
  Identity named = agent;
  named.display_name = "Jeanne Martin";
  named.email = "jeanne.martin@mairie-allonnes.fr";
  Response r = as(named, "POST", "/api/conseils/requests",
                  R"({"subject":"Financement de la voirie à Allonnes","question":"Jeanne Martin,)"
                  R"( mairie d'Allonnes (49002) : comment financer la réfection des chaussées ?)"
                  R"( Joignable au 02 41 12 34 56 ou jeanne.martin@mairie-allonnes.fr.",)"
                  R"("theme":"urbanisme"})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const std::string id(json(r).at("id").as_string());
  const std::string at = "/api/conseils/requests/" + id;
  // Not answered yet: nothing to publish.
  BOOST_TEST(as(advisor, "POST", at + "/publish").status == 409);
  BOOST_TEST(as(advisor, "POST", at + "/assign").status == 200);
  BOOST_TEST(as(advisor, "POST", at + "/answer",
                R"({"answer":"Madame Martin, la dotation d'équipement des territoires ruraux )"
                R"(finance les chaussées d'Allonnes."})")
                 .status == 200);
  BOOST_TEST(as(agent, "POST", at + "/publish").status == 403);  // the requester may not
  r = as(advisor, "POST", at + "/publish");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  const auto entry = json(r);
  const std::string published = std::string(entry.at("title").as_string()) + " " +
                                std::string(entry.at("question").as_string()) + " " +
                                std::string(entry.at("answer").as_string());
  for (const char* gone : {"Jeanne", "Martin", "Allonnes", "49002", "02 41", "@"})
    BOOST_TEST(published.find(gone) == std::string::npos, gone << " in: " << published);
  BOOST_TEST(published.find("réfection des chaussées") != std::string::npos, published);
  // Anyone logged in finds it, in French: "chaussee" without accent, "financement" a stem.
  for (const Identity& who : {stranger, op, elu}) {
    const auto found = json(as(who, "GET", "/api/conseils/knowledge?q=chaussee+financement"));
    BOOST_TEST_REQUIRE(found.at("entries").as_array().size() == 1u);
    BOOST_TEST(found.at("entries").at(0).at("theme_label").as_string() == "Urbanisme");
  }
  BOOST_TEST(json(as(stranger, "GET", "/api/conseils/knowledge?q=astronomie"))
                 .at("entries")
                 .as_array()
                 .empty());
  BOOST_TEST(json(as(stranger, "GET", "/api/conseils/knowledge")).at("entries").as_array().size() ==
             1u);
  const std::string entry_id(entry.at("id").as_string());
  BOOST_TEST(as(stranger, "GET", "/api/conseils/knowledge/" + entry_id).status == 200);
  // Published again with an edited text: replaced, not added; anonymised too.
  r = as(advisor, "POST", at + "/publish", R"({"answer":"La DETR, demandée par Jeanne Martin."})");
  BOOST_TEST_REQUIRE(r.status == 201, r.body);
  BOOST_TEST(json(r).at("answer").as_string() == "La DETR, demandée par [nom].");
  BOOST_TEST(json(as(stranger, "GET", "/api/conseils/knowledge")).at("entries").as_array().size() ==
             1u);
  // Taken out by an advisor of its theme only.
  BOOST_TEST(as(unlisted, "DELETE", "/api/conseils/knowledge/" + entry_id).status == 404);
  BOOST_TEST(as(agent, "DELETE", "/api/conseils/knowledge/" + entry_id).status == 403);
  BOOST_TEST(as(advisor, "DELETE", "/api/conseils/knowledge/" + entry_id).status == 204);
  BOOST_TEST(as(stranger, "GET", "/api/conseils/knowledge/" + entry_id).status == 404);
  BOOST_TEST(json(as(stranger, "GET", "/api/conseils/knowledge?q=chaussee"))
                 .at("entries")
                 .as_array()
                 .empty());
}

BOOST_AUTO_TEST_SUITE_END()
