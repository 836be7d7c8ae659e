// Keeping the divisions in the store: replaced as a whole in one transaction (an import is
// idempotent and never half done), read back at start.
#pragma once

#include "passerelle/task.hpp"
#include "territories/territory_index.hpp"

#include <string>

namespace passerelle {

class Store;

/// Replaces the stored divisions with `data`, recording where they came from.
Task<void> save_territories(Store& store, TerritoryData data, std::string source);

/// The stored divisions (empty when never imported).
Task<TerritoryData> load_territories(Store& store);

}  // namespace passerelle
