// Public lookups: GET /api/territories/communes?q=ang (or ?postal_code=49000) and
// GET /api/territories/communes/{insee}.
#pragma once

#include "http/route_spec.hpp"
#include "passerelle/territories.hpp"

#include <functional>
#include <vector>

namespace passerelle {

/// JSON of a commune with its department and region names.
boost::json::object commune_json(const Territories& territories, const Commune& commune);

std::vector<CoreRoute> territory_routes(std::function<const Territories&()> territories);

}  // namespace passerelle
