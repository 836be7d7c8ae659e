// The offers' eligibility rules: each condition, nesting, the reasons in French, and rules
// refused at load with their place.
#include "rules.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle::plugins::offers;

namespace {

struct Fixture {
  Rules rules;
  Names names{
      [](const std::string& c) { return c == "52" ? "Pays de la Loire" : "région " + c; },
      [](const std::string& c) { return c == "49" ? "Maine-et-Loire" : "département " + c; },
      [](const std::string& p) { return p == "pvd" ? "Petites villes de demain" : p; }};
  std::int64_t today = days_of("2026-11-30");

  int compile(const std::string& yaml) {
    return rules.compile(YAML::Load(yaml), "eligibility",
                         [](const std::string& p) { return p == "pvd" || p == "acv"; });
  }
  Place commune(std::int64_t population, const std::string& region = "52",
                const std::string& department = "49", bool pvd = false) {
    return rules.place(false, population, region, department,
                       [pvd](const std::string& p) { return pvd && p == "pvd"; });
  }
  std::vector<std::string> why(int rule, const Place& p) {
    std::vector<std::string> reasons;
    rules.explain(rule, p, today, names, reasons);
    return reasons;
  }
  std::string refusal(const std::string& yaml) {
    try {
      compile(yaml);
    } catch (const RuleError& e) {
      return std::to_string(e.line()) + ":" + std::to_string(e.column()) + " " + e.what();
    }
    return "";
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(offers_rules)

BOOST_FIXTURE_TEST_CASE(one_bound_alone, Fixture) {
  // Only a minimum: no ceiling hidden behind (the largest integer once stood for "none").
  const int at_least = compile("population: {min: 1000}");
  BOOST_TEST(rules.eligible(at_least, commune(2'000'000), today));
  BOOST_TEST(why(at_least, commune(2'000'000)).at(0) ==
             "population 2 000 000 au-dessus du seuil de 1 000");
}

BOOST_FIXTURE_TEST_CASE(each_condition, Fixture) {
  const int small = compile("population: {max: 20000}");
  BOOST_TEST(rules.eligible(small, commune(12'000), today));
  BOOST_TEST(rules.eligible(small, commune(20'000), today));  // bounds inclusive
  BOOST_TEST(!rules.eligible(small, commune(156'000), today));
  BOOST_TEST(why(small, commune(156'000)).at(0) ==
             "population 156 000 au-dessus du plafond de 20 000");
  const int big = compile("population: {min: 1000}");
  BOOST_TEST(why(big, commune(800)).at(0) == "population 800 en dessous du seuil de 1 000");
  const int region = compile("region: [\"52\", \"53\"]");
  BOOST_TEST(rules.eligible(region, commune(1, "53", "35"), today));
  BOOST_TEST(!rules.eligible(region, commune(1, "11", "75"), today));
  BOOST_TEST(why(region, commune(1, "11", "75")).at(0) ==
             "région hors de Pays de la Loire et région 53");
  const int dep = compile("department: \"49\"");
  BOOST_TEST(rules.eligible(dep, commune(1), today));
  BOOST_TEST(!rules.eligible(dep, commune(1, "52", "44"), today));
  const int kind = compile("kind: epci");
  BOOST_TEST(!rules.eligible(kind, commune(1), today));
  BOOST_TEST(why(kind, commune(1)).at(0) == "réservé aux intercommunalités");
  BOOST_TEST(
      rules.eligible(kind, rules.place(true, 1, "52", "49", [](auto&) { return false; }), today));
  const int programme = compile("programme: pvd");
  BOOST_TEST(!rules.eligible(programme, commune(1), today));
  BOOST_TEST(rules.eligible(programme, commune(1, "52", "49", true), today));
  BOOST_TEST(why(programme, commune(1)).at(0) == "hors du programme Petites villes de demain");
  const int window = compile("date: {from: 2027-01-01}");
  BOOST_TEST(!rules.eligible(window, commune(1), today));
  BOOST_TEST(why(window, commune(1)).at(0) == "offre ouverte à partir du 1 janvier 2027");
  const int closed = compile("date: {until: 2025-12-31}");
  BOOST_TEST(why(closed, commune(1)).at(0) == "offre close depuis le 31 décembre 2025");
}

BOOST_FIXTURE_TEST_CASE(the_project_theme, Fixture) {
  const int water = compile("theme: [eau, assainissement]");
  Place p = commune(1000);
  BOOST_TEST(rules.eligible(water, p, today));  // no theme asked: it holds
  BOOST_TEST(why(water, p).at(0) == "projets des thèmes eau, assainissement");
  rules.with_theme(p, "assainissement");
  BOOST_TEST(rules.eligible(water, p, today));
  BOOST_TEST(why(water, p).at(0) == "projet du thème parmi eau, assainissement");
  rules.with_theme(p, "mobilite");
  BOOST_TEST(!rules.eligible(water, p, today));
  BOOST_TEST(why(water, p).at(0) == "projet hors des thèmes eau, assainissement");
  BOOST_TEST(refusal("theme: []").find("1 to 200 themes") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(nesting_and_reasons, Fixture) {
  const int rule = compile(
      "all:\n"
      "  - population: {max: 20000}\n"
      "  - any:\n"
      "      - programme: pvd\n"
      "      - department: [\"44\"]\n"
      "  - not: {region: [\"11\"]}\n");
  BOOST_TEST(rules.eligible(rule, commune(5000, "52", "49", true), today));
  BOOST_TEST(rules.eligible(rule, commune(5000, "52", "44"), today));
  BOOST_TEST(!rules.eligible(rule, commune(5000, "52", "49"), today));
  BOOST_TEST(!rules.eligible(rule, commune(5000, "11", "44"), today));
  // Eligible: every condition says why (the any: its first that holds).
  const auto yes = why(rule, commune(5000, "52", "49", true));
  BOOST_TEST_REQUIRE(yes.size() == 3u);
  BOOST_TEST(yes[0] == "population 5 000 sous le plafond de 20 000");
  BOOST_TEST(yes[1] == "membre du programme Petites villes de demain");
  BOOST_TEST(yes[2] == "non concerné : région hors de région 11");
  // Not eligible: only what failed.
  const auto no = why(rule, commune(156'000, "52", "49"));
  BOOST_TEST_REQUIRE(no.size() == 3u);
  BOOST_TEST(no[0] == "population 156 000 au-dessus du plafond de 20 000");
  BOOST_TEST(no[1] == "hors du programme Petites villes de demain");
  BOOST_TEST(no[2] == "département hors de département 44");
}

BOOST_FIXTURE_TEST_CASE(bad_rules_are_refused_with_their_place, Fixture) {
  BOOST_TEST(refusal("population: {maxi: 3}") ==
             "1:14 eligibility.population.maxi: unknown operator (min, max)");
  BOOST_TEST(refusal("all:\n  - populaton: {max: 3}") ==
             "2:5 eligibility.all[0].populaton: unknown condition (all, any, not, population, "
             "kind, region, department, programme, date, theme)");
  BOOST_TEST(refusal("population: {min: 10, max: 5}").find("min is above max") !=
             std::string::npos);
  BOOST_TEST(refusal("population: {max: -5}").find("whole number") != std::string::npos);
  BOOST_TEST(refusal("kind: mairie").find("commune or epci") != std::string::npos);
  BOOST_TEST(refusal("region: [\"5\"]").find("eligibility.region[0]") != std::string::npos);
  BOOST_TEST(refusal("department: \"2C\"").find("not a department code") != std::string::npos);
  BOOST_TEST(refusal("programme: inconnu").find("no programme \"inconnu\"") != std::string::npos);
  BOOST_TEST(refusal("date: {from: 2026-02-30}").find("YYYY-MM-DD") != std::string::npos);
  BOOST_TEST(refusal("all: []").find("at least one") != std::string::npos);
  BOOST_TEST(refusal("{population: {max: 3}, kind: commune}").find("one condition") !=
             std::string::npos);
  // Bounds, sizes: a population beyond a billion, 250 conditions, 300 codes.
  BOOST_TEST(refusal("population: {max: 9223372036854775807}").find("at most 1 000 000 000") !=
             std::string::npos);
  std::string many = "any:\n";
  for (int i = 0; i < 250; ++i) many += "  - kind: commune\n";
  BOOST_TEST(refusal(many).find("at most 200 conditions") != std::string::npos);
  std::string codes = "region: [";
  for (int i = 0; i < 300; ++i) codes += std::string(i ? ", " : "") + "\"52\"";
  BOOST_TEST(refusal(codes + "]").find("at most 200 codes") != std::string::npos);
  // A refused rule leaves the compiled ones as they were.
  const int ok = compile("population: {max: 10}");
  BOOST_TEST(!refusal("all: [{population: {max: 3}}, {bad: 1}]").empty());
  BOOST_TEST(rules.eligible(ok, commune(5), today));
}

BOOST_AUTO_TEST_CASE(dates_and_numbers) {
  BOOST_TEST(days_of("1970-01-01") == 0);
  BOOST_TEST(days_of("2026-11-30") == 20'787);
  BOOST_TEST(days_of("2024-02-29") > 0);
  BOOST_TEST(days_of("2023-02-29") == -1);
  BOOST_TEST(days_of("2024-1x-05") == -1);
  BOOST_TEST(days_of("2024-01-5 ") == -1);
  BOOST_TEST(french_number(INT64_MIN) == "-9 223 372 036 854 775 808");
  BOOST_TEST(french_date(days_of("2026-03-01")) == "1 mars 2026");
  BOOST_TEST(french_number(34875) == "34 875");
  BOOST_TEST(french_number(999) == "999");
  BOOST_TEST(french_number(1'000'000) == "1 000 000");
}

BOOST_AUTO_TEST_SUITE_END()
