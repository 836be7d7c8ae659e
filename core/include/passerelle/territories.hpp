// The French administrative divisions, as the host hands them to plugins: in memory, replaced
// whole when an operator imports them again, lookups in microseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace passerelle {

/// A region (code INSEE, e.g. "52" Pays de la Loire).
struct Region {
  std::string code;  ///< INSEE code.
  std::string name;  ///< Official name.
};

/// A department (e.g. "49" Maine-et-Loire, "2A" Corse-du-Sud).
struct Department {
  std::string code;    ///< INSEE code.
  std::string name;    ///< Official name.
  std::string region;  ///< Code of its region.
};

/// A current commune.
struct Commune {
  std::string code;                       ///< INSEE code, e.g. "49007".
  std::string name;                       ///< Official name, e.g. "Angers".
  std::string department;                 ///< Code of its department.
  std::string region;                     ///< Code of its region.
  std::int64_t population = 0;            ///< Municipal population (0 when unknown).
  std::vector<std::string> postal_codes;  ///< Postal codes serving it.
  std::string epci;                       ///< SIREN of its intercommunality, may be empty.
};

/// An intercommunality (EPCI à fiscalité propre: CC, CA, CU, métropole), SDK 0.6.
struct Epci {
  std::string siren;            ///< Its SIREN, e.g. "200060010"; a commune's `epci`.
  std::string name;             ///< e.g. "CA Mauges Communauté".
  std::string type;             ///< "CC", "CA", "CU", "METRO", "MET69".
  std::int64_t population = 0;  ///< Municipal population of its members together.
  std::string department;       ///< That of its most populous member commune.
  std::string region;           ///< Idem.
};

/// Read-only access to the divisions. A pointer stays valid for the call (handler, widget,
/// start) it was got in, and ten minutes after an import replaced the divisions: keep codes,
/// not pointers, in what lives longer. A lookup after an import answers from the new ones.
class Territories {
 public:
  virtual ~Territories() = default;
  /// The commune of an INSEE code, or null.
  virtual const Commune* commune(std::string_view insee) const = 0;
  /// The communes a postal code serves (several may share one), largest first.
  virtual std::vector<const Commune*> communes_by_postal_code(
      std::string_view postal_code) const = 0;
  /// Communes whose name, or a word of it, starts with `query` (accents and case ignored),
  /// largest first, at most `limit`.
  virtual std::vector<const Commune*> search(std::string_view query, std::size_t limit) const = 0;
  /// The department of a code, or null.
  virtual const Department* department(std::string_view code) const = 0;
  /// The region of a code, or null.
  virtual const Region* region(std::string_view code) const = 0;
  /// Every department, by code.
  virtual std::vector<const Department*> departments() const = 0;
  /// Every region, by code.
  virtual std::vector<const Region*> regions() const = 0;
  /// The intercommunality of a SIREN, or null (SDK 0.6).
  virtual const Epci* epci(std::string_view siren) const = 0;
};

}  // namespace passerelle
