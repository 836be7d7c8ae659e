#include "catalogue.hpp"

#include "rules.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace passerelle::plugins::offers {

namespace json = boost::json;

namespace {

bool has_control(const std::string& s, bool lines) {
  return std::any_of(s.begin(), s.end(), [lines](unsigned char c) {
    return (c < 0x20 && !(lines && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7F;
  });
}

std::string text(const json::object& o, const char* field, std::size_t max, bool required,
                 bool lines = false) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) {
    if (required) throw FieldError(field, "required");
    return {};
  }
  if (!v->is_string()) throw FieldError(field, "expected text");
  std::string s(v->as_string());
  if (required && s.empty()) throw FieldError(field, "required");
  if (s.size() > max) throw FieldError(field, "at most " + std::to_string(max) + " bytes");
  if (has_control(s, lines)) throw FieldError(field, "no control character");
  return s;
}

std::optional<std::int64_t> whole(const json::object& o, const char* field, std::int64_t max) {
  const json::value* v = o.if_contains(field);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_int64() && !v->is_uint64()) throw FieldError(field, "expected a whole number");
  const std::int64_t n = v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(v->as_uint64());
  if (n < 1 || n > max) throw FieldError(field, "between 1 and " + std::to_string(max));
  return n;
}

}  // namespace

Offer offer_from_json(const json::object& o) {
  static const std::vector<std::string> kKnown{
      "id",          "title",          "kind",
      "summary",     "body",           "link",
      "themes",      "max_amount_eur", "max_duration_years",
      "rate",        "start",          "end",
      "eligibility", "archived",       "version"};
  for (const auto& [key, value] : o)
    if (std::find(kKnown.begin(), kKnown.end(), std::string(key)) == kKnown.end())
      throw FieldError(std::string(key), "unknown field");
  Offer offer;
  offer.id = text(o, "id", 64, true);
  if (!std::all_of(
          offer.id.begin(), offer.id.end(),
          [](unsigned char c) { return std::islower(c) || std::isdigit(c) || c == '-'; }) ||
      offer.id == "eligible" || offer.id == "programmes" || offer.id == "leads")
    throw FieldError("id", "lower-case letters, digits and '-' (not eligible, programmes, leads)");
  offer.title = text(o, "title", 200, true);
  offer.kind = text(o, "kind", 20, true);
  if (std::find(kinds().begin(), kinds().end(), offer.kind) == kinds().end())
    throw FieldError("kind", "financing or engineering");
  offer.summary = text(o, "summary", 1000, true, true);
  offer.body = text(o, "body", 20000, false, true);
  offer.link = text(o, "link", 500, false);
  if (!offer.link.empty() && offer.link.rfind("https://", 0) != 0)
    throw FieldError("link", "an https:// address");
  if (const json::value* t = o.if_contains("themes")) {
    if (!t->is_array()) throw FieldError("themes", "expected a list");
    for (std::size_t i = 0; i < t->as_array().size(); ++i) {
      const json::value& theme = t->as_array()[i];
      const std::string field = "themes[" + std::to_string(i) + "]";
      if (!theme.is_string() || theme.as_string().empty() || theme.as_string().size() > 40)
        throw FieldError(field, "a theme of 1 to 40 bytes");
      offer.themes.emplace_back(theme.as_string());
    }
  }
  offer.max_amount_eur = whole(o, "max_amount_eur", 10'000'000'000);
  offer.max_duration_years = whole(o, "max_duration_years", 100);
  offer.rate = text(o, "rate", 200, false);
  offer.start = text(o, "start", 10, false);
  offer.end = text(o, "end", 10, false);
  if (!offer.start.empty() && days_of(offer.start) < 0)
    throw FieldError("start", "a date YYYY-MM-DD");
  if (!offer.end.empty() && days_of(offer.end) < 0) throw FieldError("end", "a date YYYY-MM-DD");
  if (!offer.start.empty() && !offer.end.empty() && offer.start > offer.end)
    throw FieldError("end", "before start");
  const json::value* rule = o.if_contains("eligibility");
  if (!rule || !rule->is_object())
    throw FieldError("eligibility", "a rule (an object) is required");
  offer.eligibility = *rule;
  if (const json::value* a = o.if_contains("archived"); a && a->is_bool())
    offer.archived = a->as_bool();
  return offer;
}

json::object to_json(const Offer& offer) {
  json::object o{{"id", offer.id},
                 {"title", offer.title},
                 {"kind", offer.kind},
                 {"summary", offer.summary},
                 {"themes", json::array(offer.themes.begin(), offer.themes.end())}};
  if (!offer.body.empty()) o["body"] = offer.body;
  if (!offer.link.empty()) o["link"] = offer.link;
  if (offer.max_amount_eur) o["max_amount_eur"] = *offer.max_amount_eur;
  if (offer.max_duration_years) o["max_duration_years"] = *offer.max_duration_years;
  if (!offer.rate.empty()) o["rate"] = offer.rate;
  if (!offer.start.empty()) o["start"] = offer.start;
  if (!offer.end.empty()) o["end"] = offer.end;
  o["eligibility"] = offer.eligibility;
  o["archived"] = offer.archived;
  o["version"] = offer.version;
  return o;
}

json::value json_of(const YAML::Node& node) {
  if (node.IsMap()) {
    json::object o;
    for (const auto& entry : node) o[entry.first.Scalar()] = json_of(entry.second);
    return o;
  }
  if (node.IsSequence()) {
    json::array a;
    for (const auto& item : node) a.push_back(json_of(item));
    return a;
  }
  if (!node.IsScalar()) return nullptr;
  const std::string& s = node.Scalar();
  if (node.Tag() == "?" && !s.empty()) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size() && !(s.size() > 1 && s[0] == '0')) return n;
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return json::value(json::string(s));
}

}  // namespace passerelle::plugins::offers
