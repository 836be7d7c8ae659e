// Postal codes are kept space-separated in one column: they are only ever read as a whole.
#include "territories/territory_store.hpp"

#include "store/sqlite_store.hpp"
#include "util/clock.hpp"

#include <sstream>

namespace passerelle {

Task<void> save_territories(Store& store, TerritoryData data, std::string source) {
  std::vector<Statement> statements{{"DELETE FROM territory_epcis", {}},
                                    {"DELETE FROM territory_communes", {}},
                                    {"DELETE FROM territory_departments", {}},
                                    {"DELETE FROM territory_regions", {}}};
  statements.reserve(data.communes.size() + data.departments.size() + data.regions.size() + 5);
  for (const auto& r : data.regions)
    statements.push_back(
        {"INSERT INTO territory_regions(code, name) VALUES (?1, ?2)", {r.code, r.name}});
  for (const auto& d : data.departments)
    statements.push_back(
        {"INSERT INTO territory_departments(code, name, region) VALUES (?1, ?2, ?3)",
         {d.code, d.name, d.region}});
  for (const auto& c : data.communes) {
    std::string postal;
    for (const auto& pc : c.postal_codes) postal += (postal.empty() ? "" : " ") + pc;
    statements.push_back(
        {"INSERT INTO territory_communes(code, name, department, region, population, "
         "postal_codes, epci) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
         {c.code, c.name, c.department, c.region, c.population, postal, c.epci}});
  }
  for (const auto& e : data.epcis)
    statements.push_back(
        {"INSERT INTO territory_epcis(siren, name, type, population) VALUES (?1, ?2, ?3, ?4)",
         {e.siren, e.name, e.type, e.population}});
  statements.push_back(
      {"INSERT INTO territory_import(id, source, imported_at) VALUES (1, ?1, ?2) "
       "ON CONFLICT (id) DO UPDATE SET source = excluded.source, imported_at = "
       "excluded.imported_at",
       {source, utc_timestamp()}});
  co_await store.transaction(std::move(statements));
}

Task<TerritoryData> load_territories(Store& store) {
  TerritoryData data;
  Statement regions{"SELECT code, name FROM territory_regions", {}};
  const QueryResult region_rows = co_await store.query(std::move(regions));
  for (auto& row : region_rows.rows)
    data.regions.push_back({std::get<std::string>(row[0]), std::get<std::string>(row[1])});
  Statement departments{"SELECT code, name, region FROM territory_departments", {}};
  const QueryResult department_rows = co_await store.query(std::move(departments));
  for (auto& row : department_rows.rows)
    data.departments.push_back({std::get<std::string>(row[0]), std::get<std::string>(row[1]),
                                std::get<std::string>(row[2])});
  Statement communes{
      "SELECT code, name, department, region, population, postal_codes, epci FROM "
      "territory_communes",
      {}};
  const QueryResult commune_rows = co_await store.query(std::move(communes));
  for (auto& row : commune_rows.rows) {
    Commune c;
    c.code = std::get<std::string>(row[0]);
    c.name = std::get<std::string>(row[1]);
    c.department = std::get<std::string>(row[2]);
    c.region = std::get<std::string>(row[3]);
    c.population = std::get<std::int64_t>(row[4]);
    std::istringstream postal(std::get<std::string>(row[5]));
    for (std::string pc; postal >> pc;) c.postal_codes.push_back(pc);
    c.epci = std::get<std::string>(row[6]);
    data.communes.push_back(std::move(c));
  }
  Statement epcis{"SELECT siren, name, type, population FROM territory_epcis", {}};
  const QueryResult epci_rows = co_await store.query(std::move(epcis));
  for (auto& row : epci_rows.rows)
    data.epcis.push_back({std::get<std::string>(row[0]), std::get<std::string>(row[1]),
                          std::get<std::string>(row[2]), std::get<std::int64_t>(row[3])});
  co_return data;
}

}  // namespace passerelle
