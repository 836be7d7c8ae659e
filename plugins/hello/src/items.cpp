// Validation of hello items: a name of 1 to 100 characters, no control characters.
#include "items.hpp"

#include <boost/json/parse.hpp>

#include <chrono>
#include <ctime>

namespace passerelle::plugins::hello {

std::string parse_new_item(const std::string& body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) throw HttpError(400, "invalid_json", "the body is not valid JSON");
  const auto* obj = v.if_object();
  const auto* name = obj ? obj->if_contains("name") : nullptr;
  if (!name || !name->is_string())
    throw HttpError(422, "invalid_field", "name: a string is required");
  std::string out(name->as_string());
  if (out.empty() || out.size() > 100)
    throw HttpError(422, "invalid_field", "name: 1 to 100 characters");
  for (unsigned char c : out)
    if (c < 0x20) throw HttpError(422, "invalid_field", "name: control characters are not allowed");
  return out;
}

std::string iso8601_utc(std::int64_t epoch) {
  const std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

boost::json::object item_json(const std::vector<SqlValue>& row) {
  return {{"id", std::get<std::int64_t>(row.at(0))},
          {"name", std::get<std::string>(row.at(1))},
          {"created_at", iso8601_utc(std::get<std::int64_t>(row.at(2)))}};
}

}  // namespace passerelle::plugins::hello
