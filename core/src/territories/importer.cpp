// Strict reading: a wrong type or a dangling reference stops the whole import with the record's
// position and code, so that nothing is half imported.
#include "territories/importer.hpp"

#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

namespace passerelle {

namespace json = boost::json;

namespace {

json::array read_array(const std::string& folder, const std::string& file, bool required) {
  const std::string path = folder + "/" + file;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!required) return {};
    throw ImportError(file + ": cannot read " + path);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(buffer.str(), ec);
  if (ec) throw ImportError(file + ": not valid JSON (" + ec.message() + ")");
  if (!v.is_array()) throw ImportError(file + ": expected a JSON array of records");
  return std::move(v.as_array());
}

// One record being read: errors name the file, the record number and its code.
class Record {
 public:
  Record(const std::string& file, std::size_t index, const json::value& v)
      : file_(file), index_(index) {
    if (!v.is_object()) fail("", "expected an object");
    o_ = &v.as_object();
    if (const auto* c = o_->if_contains("code"); c && c->is_string()) code_ = c->as_string();
  }
  [[noreturn]] void fail(const std::string& field, const std::string& message) const {
    throw ImportError(file_ + ": record " + std::to_string(index_ + 1) +
                      (code_.empty() ? "" : " (code " + code_ + ")") + ": " +
                      (field.empty() ? "" : field + ": ") + message + "; nothing was imported");
  }
  std::string text(const char* field, bool required = true) const {
    const auto* v = o_->if_contains(field);
    if (!v || v->is_null()) {
      if (required) fail(field, "missing");
      return {};
    }
    if (!v->is_string() || v->as_string().empty()) fail(field, "expected a non-empty string");
    return std::string(v->as_string());
  }
  std::int64_t integer(const char* field) const {
    const auto* v = o_->if_contains(field);
    if (!v || v->is_null()) return 0;
    if (v->is_int64() && v->as_int64() >= 0) return v->as_int64();
    if (v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
    fail(field, "expected a non-negative integer");
  }
  std::vector<std::string> texts(const char* field) const {
    std::vector<std::string> out;
    const auto* v = o_->if_contains(field);
    if (!v || v->is_null()) return out;
    if (!v->is_array()) fail(field, "expected a list");
    for (const auto& x : v->as_array()) {
      if (!x.is_string()) fail(field, "expected a list of strings");
      out.emplace_back(x.as_string());
    }
    return out;
  }
  const json::object& object() const { return *o_; }

 private:
  std::string file_;
  std::size_t index_;
  std::string code_;
  const json::object* o_ = nullptr;
};

}  // namespace

TerritoryData read_territories(const std::string& folder) {
  TerritoryData data;
  std::set<std::string> regions, departments, communes;

  // The overseas collectivities (zone "com": Saint-Pierre-et-Miquelon, Polynésie, …) come as
  // pseudo-regions and pseudo-departments; they are not served here.
  auto region_records = read_array(folder, "regions.json", true);
  for (std::size_t i = 0; i < region_records.size(); ++i) {
    Record r("regions.json", i, region_records[i]);
    if (r.text("zone", false) == "com") continue;
    Region region{r.text("code"), r.text("nom")};
    if (!regions.insert(region.code).second) r.fail("code", "appears twice");
    data.regions.push_back(std::move(region));
  }

  auto department_records = read_array(folder, "departements.json", true);
  for (std::size_t i = 0; i < department_records.size(); ++i) {
    Record r("departements.json", i, department_records[i]);
    if (r.text("zone", false) == "com") continue;
    Department d{r.text("code"), r.text("nom"), r.text("region")};
    if (!regions.count(d.region)) r.fail("region", "unknown region " + d.region);
    if (!departments.insert(d.code).second) r.fail("code", "appears twice");
    data.departments.push_back(std::move(d));
  }

  // EPCI membership, by commune code.
  std::unordered_map<std::string, std::string> epci_of;
  auto epci_records = read_array(folder, "epci.json", false);
  for (std::size_t i = 0; i < epci_records.size(); ++i) {
    Record r("epci.json", i, epci_records[i]);
    const std::string siren = r.text("code");
    // Name, type and population: for offers evaluated against an intercommunality.
    Epci e{siren, r.text("nom"), r.text("type", false), 0};
    if (const auto* p = r.object().if_contains("populationMunicipale"); p && p->is_int64())
      e.population = p->as_int64();
    data.epcis.push_back(std::move(e));
    const auto* members = r.object().if_contains("membres");
    if (!members || !members->is_array()) r.fail("membres", "expected a list");
    for (const auto& m : members->as_array()) {
      if (!m.is_object() || !m.as_object().contains("code") ||
          !m.as_object().at("code").is_string())
        r.fail("membres", "each member needs a code");
      epci_of[std::string(m.as_object().at("code").as_string())] = siren;
    }
  }

  auto commune_records = read_array(folder, "communes.json", true);
  for (std::size_t i = 0; i < commune_records.size(); ++i) {
    Record r("communes.json", i, commune_records[i]);
    const std::string code = r.text("code");
    r.text("nom");
    if (r.text("type") != "commune-actuelle") continue;  // délégués and associées share codes
    if (r.text("zone", false) == "com") continue;
    Commune c;
    c.code = code;
    c.name = r.text("nom");
    c.department = r.text("departement");
    c.region = r.text("region");
    c.population = r.integer("population");
    c.postal_codes = r.texts("codesPostaux");
    if (!departments.count(c.department))
      r.fail("departement", "unknown department " + c.department);
    if (!regions.count(c.region)) r.fail("region", "unknown region " + c.region);
    if (!communes.insert(c.code).second) r.fail("code", "two current communes have this code");
    if (auto it = epci_of.find(c.code); it != epci_of.end()) c.epci = it->second;
    data.communes.push_back(std::move(c));
  }
  if (data.regions.empty() || data.departments.empty() || data.communes.empty())
    throw ImportError(folder + ": no regions, departments or communes found; nothing was imported");
  return data;
}

}  // namespace passerelle
