// The logic of hello's items, apart from HTTP: validation and JSON shapes, unit-testable.
#pragma once

#include "passerelle/sdk.hpp"

#include <boost/json/object.hpp>

#include <string>

namespace passerelle::plugins::hello {

/// The name of a new item from a JSON body; HttpError 400/422 on bad input.
std::string parse_new_item(const std::string& body);

/// "2026-01-31T12:00:00Z" for an epoch time.
std::string iso8601_utc(std::int64_t epoch);

/// {"id":..,"name":..,"created_at":"<ISO-8601 UTC>"} from a row (id, name, created_at epoch).
boost::json::object item_json(const std::vector<SqlValue>& row);

}  // namespace passerelle::plugins::hello
