// A request body that must be a JSON object, as the core's own routes read it.
#pragma once

#include <boost/json/object.hpp>

#include <string_view>

namespace passerelle {

/// The body parsed; HttpError 400 invalid_json when it is not a JSON object.
boost::json::object json_object_body(std::string_view body);

}  // namespace passerelle
