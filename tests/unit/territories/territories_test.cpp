// Import of the package's files (the committed fixture), the in-memory index and the store.
#include "store/core_schema.hpp"
#include "store/sqlite_store.hpp"
#include "support/run.hpp"
#include "territories/importer.hpp"
#include "territories/territory_index.hpp"
#include "territories/territory_store.hpp"

#include <boost/test/unit_test.hpp>

using namespace passerelle;

namespace {
const std::string kFixture = std::string(PASSERELLE_TEST_FIXTURES) + "/territories";

std::vector<std::string> names(const std::vector<const Commune*>& communes) {
  std::vector<std::string> out;
  for (auto* c : communes) out.push_back(c->name);
  return out;
}

struct Fixture {
  TerritoryIndex index{read_territories(kFixture)};
};
}  // namespace

BOOST_AUTO_TEST_SUITE(territories)

BOOST_AUTO_TEST_CASE(import_keeps_current_communes_only) {
  TerritoryData data = read_territories(kFixture);
  BOOST_TEST(data.regions.size() == 4u);
  BOOST_TEST(data.departments.size() == 12u);
  BOOST_TEST(data.communes.size() == 332u);
  TerritoryIndex index(std::move(data));
  BOOST_TEST(index.commune("49023")->name == "Beaupréau-en-Mauges");  // not its commune déléguée
  BOOST_TEST(index.commune("79224") == nullptr);                      // a commune associée
}

BOOST_AUTO_TEST_CASE(a_malformed_record_is_named_and_nothing_is_kept) {
  BOOST_CHECK_EXCEPTION(read_territories(kFixture + "/malformed"), ImportError,
                        [](const ImportError& e) {
                          return std::string(e.what()) ==
                                 "communes.json: record 132 (code 49007): population: expected a "
                                 "non-negative integer; nothing was imported";
                        });
  BOOST_CHECK_THROW(read_territories("/nonexistent"), ImportError);
}

BOOST_FIXTURE_TEST_CASE(commune_department_region, Fixture) {
  const Commune* angers = index.commune("49007");
  BOOST_TEST_REQUIRE(angers != nullptr);
  BOOST_TEST(angers->population > 150000);
  BOOST_TEST(angers->epci == "244900015");
  BOOST_TEST(index.department(angers->department)->name == "Maine-et-Loire");
  BOOST_TEST(index.region(angers->region)->name == "Pays de la Loire");
  BOOST_TEST(index.department("2A")->region == "94");
  BOOST_TEST(index.commune("99999") == nullptr);
  BOOST_TEST(index.departments().size() == 12u);
  BOOST_TEST(index.regions().front()->code == "01");
  // Its intercommunality: name, type, population, and the department of its largest member.
  const Epci* metropole = index.epci(angers->epci);
  BOOST_TEST_REQUIRE(metropole != nullptr);
  BOOST_TEST(metropole->name == "CU Angers Loire Métropole");
  BOOST_TEST(metropole->type == "CU");
  BOOST_TEST(metropole->population == 308806);
  BOOST_TEST(metropole->department == "49");
  BOOST_TEST(metropole->region == "52");
  BOOST_TEST(index.epci("000000000") == nullptr);
}

BOOST_FIXTURE_TEST_CASE(postal_codes_may_serve_several_communes, Fixture) {
  auto found = index.communes_by_postal_code("49000");
  BOOST_TEST_REQUIRE(found.size() >= 2u);
  BOOST_TEST(found.front()->name == "Angers");  // largest first
  for (std::size_t i = 1; i < found.size(); ++i)
    BOOST_TEST(found[i - 1]->population >= found[i]->population);
  BOOST_TEST(index.communes_by_postal_code("00000").empty());
}

BOOST_FIXTURE_TEST_CASE(search_ignores_accents_and_case_and_ranks_by_population, Fixture) {
  BOOST_TEST(names(index.search("ANG", 2)) ==
             (std::vector<std::string>{"Angers", "Le Lion-d'Angers"}));
  BOOST_TEST(names(index.search("ponts de ce", 5)) == std::vector<std::string>{"Les Ponts-de-Cé"});
  BOOST_TEST(names(index.search("cé", 5)) == names(index.search("CE", 5)));
  BOOST_TEST(names(index.search("ajacc", 5)) == std::vector<std::string>{"Ajaccio"});
  BOOST_TEST(index.search("zzz", 5).empty());
  BOOST_TEST(index.search("", 5).empty());
  BOOST_TEST(index.search("a", 7).size() == 7u);
}

BOOST_AUTO_TEST_CASE(names_are_normalized) {
  BOOST_TEST(normalize_name("Saint-Barthélemy-d'Anjou") == "saint barthelemy d anjou");
  BOOST_TEST(normalize_name("  ÉCOUFLANT ") == "ecouflant");
  BOOST_TEST(normalize_name("Œuilly") == "oeuilly");
  BOOST_TEST(normalize_name("L\xE2\x80\x99Isle") == "l isle");
}

BOOST_AUTO_TEST_CASE(store_round_trip_replaces_everything) {
  SqliteStore store(":memory:", 1);
  test::run(store.migrate("core", core_migrations()));
  test::run(save_territories(store, read_territories(kFixture), "fixture"));
  test::run(save_territories(store, read_territories(kFixture), "fixture"));  // idempotent
  TerritoryIndex index(test::run(load_territories(store)));
  BOOST_TEST(index.commune_count() == 332u);
  BOOST_TEST(index.epci_count() == 10u);
  BOOST_TEST(index.epci("244900015")->population == 308806);
  BOOST_TEST((index.commune("49007")->postal_codes == std::vector<std::string>{"49000", "49100"}));
}

BOOST_AUTO_TEST_SUITE_END()
