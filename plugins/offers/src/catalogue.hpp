// An offer of the catalogue: its fields, read from the seed (YAML) or an operator's body (JSON)
// with a reason naming the field when one is wrong, and written back as JSON.
#pragma once

#include <yaml-cpp/yaml.h>
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace passerelle::plugins::offers {

/// A field refused: its name ("title", "eligibility.all[0].population") and why.
class FieldError : public std::runtime_error {
 public:
  FieldError(std::string field, const std::string& why)
      : std::runtime_error(field + ": " + why), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

inline const std::vector<std::string>& kinds() {
  static const std::vector<std::string> k{"financing", "engineering"};
  return k;
}

struct Offer {
  std::string id, title, kind, summary, body, link;
  std::vector<std::string> themes;
  std::optional<std::int64_t> max_amount_eur;      // only when public
  std::optional<std::int64_t> max_duration_years;  // idem
  std::string rate;                                // a text ("taux fixe ou variable"), optional
  std::string start, end;                          // "YYYY-MM-DD", optional
  boost::json::value eligibility;                  // the rule, as JSON (compiled apart)
  bool archived = false;
  std::int64_t version = 1;
};

/// The offer of a JSON object; FieldError naming the field. The rule is checked for shape
/// only here (compiled by the caller, which knows the programmes).
Offer offer_from_json(const boost::json::object& o);
boost::json::object to_json(const Offer& offer);

/// A YAML node as JSON: maps, lists, and scalars (a plain one that reads as a whole number is
/// a number; anything else, quoted codes such as "01" included, a string).
boost::json::value json_of(const YAML::Node& node);

}  // namespace passerelle::plugins::offers
