#include "http/json_body.hpp"

#include "passerelle/http.hpp"

#include <boost/json/parse.hpp>

namespace passerelle {

boost::json::object json_object_body(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) throw HttpError(400, "invalid_json", "the body is not a JSON object");
  return std::move(v.as_object());
}

}  // namespace passerelle
