// Reads the JSON files of the package @etalab/decoupage-administratif (regions.json,
// departements.json, communes.json, epci.json) into TerritoryData, checking every record.
#pragma once

#include "territories/territory_index.hpp"

#include <stdexcept>
#include <string>

namespace passerelle {

/// A file or record that cannot be imported; what() names the file, the record and the field.
class ImportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a folder; keeps only current communes ("commune-actuelle") of the 101 departments
/// (not the overseas collectivities). Throws ImportError.
TerritoryData read_territories(const std::string& folder);

}  // namespace passerelle
