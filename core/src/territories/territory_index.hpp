// The in-memory index of the divisions: hash maps by code, a postal code map, and a sorted list
// of name words for prefix search.
#pragma once

#include "passerelle/territories.hpp"

#include <string>
#include <unordered_map>
#include <vector>

namespace passerelle {

/// Everything the importer reads and the store keeps.
struct TerritoryData {
  std::vector<Region> regions;
  std::vector<Department> departments;
  std::vector<Commune> communes;
};

/// Lower case, accents removed, hyphens and apostrophes as spaces: "Saint-Barthélemy-d'Anjou"
/// -> "saint barthelemy d anjou".
std::string normalize_name(std::string_view name);

class TerritoryIndex final : public Territories {
 public:
  TerritoryIndex() = default;
  explicit TerritoryIndex(TerritoryData data);

  const Commune* commune(std::string_view insee) const override;
  std::vector<const Commune*> communes_by_postal_code(std::string_view postal_code) const override;
  std::vector<const Commune*> search(std::string_view query, std::size_t limit) const override;
  const Department* department(std::string_view code) const override;
  const Region* region(std::string_view code) const override;
  std::vector<const Department*> departments() const override;
  std::vector<const Region*> regions() const override;

  std::size_t commune_count() const { return data_.communes.size(); }

 private:
  TerritoryData data_;
  std::unordered_map<std::string, std::size_t> commune_by_code_;
  std::unordered_map<std::string, std::size_t> department_by_code_;
  std::unordered_map<std::string, std::size_t> region_by_code_;
  std::unordered_map<std::string, std::vector<std::size_t>> communes_by_postal_code_;
  // (normalized word or whole name, commune index), sorted: a prefix is a range.
  std::vector<std::pair<std::string, std::size_t>> words_;
  // Answers for the prefixes of one or two characters, whose ranges are long (computed once).
  static constexpr std::size_t kMemoLimit = 50;
  std::unordered_map<std::string, std::vector<std::size_t>> short_prefixes_;

  std::vector<std::size_t> best(std::string_view prefix, std::size_t limit) const;
  bool ranks_before(std::size_t a, std::size_t b) const;
};

}  // namespace passerelle
