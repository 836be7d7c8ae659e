// Validation rules of directorates and contacts, their JSON and YAML forms, the coverage check.
#include "directorate.hpp"

#include "france.hpp"

#include <yaml-cpp/yaml.h>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace passerelle::plugins::directorates {

namespace json = boost::json;

namespace {

const std::set<std::string> kThemes = {"financement",           "ingenierie", "habitat",
                                       "transition-ecologique", "numerique",  "cohesion-sociale"};

[[noreturn]] void invalid(const std::string& field, const std::string& reason) {
  throw HttpError(422, "invalid_field", field + ": " + reason);
}

void check_text(const std::string& field, const std::string& value, std::size_t max,
                bool required = true) {
  if (required && value.empty()) invalid(field, "required");
  if (value.size() > max) invalid(field, "at most " + std::to_string(max) + " characters");
  for (unsigned char c : value)
    if (c < 0x20) invalid(field, "control characters are not allowed");
}

void check_email(const std::string& field, const std::string& value) {
  check_text(field, value, 254);
  const auto at = value.find('@');
  if (at == std::string::npos || at == 0 || value.find('.', at) == std::string::npos ||
      value.find(' ') != std::string::npos)
    invalid(field, "not an email address");
}

void check_phone(const std::string& field, const std::string& value) {
  check_text(field, value, 30);
  if (!std::all_of(value.begin(), value.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || c == '+' || c == ' ';
      }))
    invalid(field, "digits, spaces and + only");
}

void check_contact(const std::string& prefix, const Contact& c) {
  check_text(prefix + "role", c.role, 200);
  check_text(prefix + "name", c.name, 200);
  check_email(prefix + "email", c.email);
  check_phone(prefix + "phone", c.phone);
  for (std::size_t i = 0; i < c.themes.size(); ++i)
    if (!kThemes.count(c.themes[i]))
      invalid(prefix + "themes[" + std::to_string(i) + "]",
              "unknown theme \"" + c.themes[i] +
                  "\" (financement, ingenierie, habitat, transition-ecologique, numerique, "
                  "cohesion-sociale)");
}

std::string text_field(const json::object& o, const char* key, const std::string& prefix = "") {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return {};
  if (!v->is_string()) invalid(prefix + key, "expected a string");
  return std::string(v->as_string());
}

std::vector<std::string> list_field(const json::object& o, const char* key,
                                    const std::string& prefix = "") {
  std::vector<std::string> out;
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) invalid(prefix + key, "expected a list");
  for (const auto& x : v->as_array()) {
    if (!x.is_string()) invalid(prefix + key, "expected a list of strings");
    out.emplace_back(x.as_string());
  }
  return out;
}

json::object parse_object(const std::string& body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec) throw HttpError(400, "invalid_json", "the body is not valid JSON");
  if (!v.is_object()) invalid("body", "expected an object");
  return std::move(v.as_object());
}

// Ids that are fixed routes: /api/directorates/for, /mine, /coverage.
const std::set<std::string> kReservedIds = {"for", "mine", "coverage"};

Contact contact_of(const json::object& o, const std::string& prefix) {
  Contact c;
  // Only a claim: assign_contact_ids decides.
  if (const auto* id = o.if_contains("id"); id && id->is_int64() && id->as_int64() > 0)
    c.id = id->as_int64();
  c.role = text_field(o, "role", prefix);
  c.name = text_field(o, "name", prefix);
  c.email = text_field(o, "email", prefix);
  c.phone = text_field(o, "phone", prefix);
  c.themes = list_field(o, "themes", prefix);
  return c;
}

Directorate directorate_of(const json::object& o) {
  Directorate d;
  d.id = text_field(o, "id");
  d.name = text_field(o, "name");
  d.region = text_field(o, "region");
  d.departments = list_field(o, "departments");
  d.address = text_field(o, "address");
  d.phone = text_field(o, "phone");
  d.email = text_field(o, "email");
  if (const auto* v = o.if_contains("version"); v && !v->is_null()) {
    if (!v->is_int64() || v->as_int64() < 0) invalid("version", "a positive integer");
    d.version = v->as_int64();
  }
  if (const auto* contacts = o.if_contains("contacts"); contacts && !contacts->is_null()) {
    if (!contacts->is_array()) invalid("contacts", "expected a list");
    if (contacts->as_array().size() > kMaxContacts)
      invalid("contacts", "at most " + std::to_string(kMaxContacts));
    for (std::size_t i = 0; i < contacts->as_array().size(); ++i) {
      const auto& c = contacts->as_array()[i];
      const std::string prefix = "contacts[" + std::to_string(i) + "].";
      if (!c.is_object()) invalid("contacts[" + std::to_string(i) + "]", "expected an object");
      d.contacts.push_back(contact_of(c.as_object(), prefix));
    }
  }
  return d;
}

}  // namespace

json::object to_json(const Contact& c) {
  json::array themes;
  for (const auto& t : c.themes) themes.emplace_back(t);
  return {{"id", c.id},       {"role", c.role},   {"name", c.name},
          {"email", c.email}, {"phone", c.phone}, {"themes", std::move(themes)}};
}

json::object to_json(const Directorate& d) {
  json::array departments, contacts;
  for (const auto& dep : d.departments) departments.emplace_back(dep);
  for (const auto& c : d.contacts) contacts.push_back(to_json(c));
  return {{"id", d.id},           {"name", d.name},
          {"region", d.region},   {"departments", std::move(departments)},
          {"address", d.address}, {"phone", d.phone},
          {"email", d.email},     {"contacts", std::move(contacts)},
          {"version", d.version}};
}

void validate(const Directorate& d) {
  check_text("id", d.id, 64);
  if (!std::all_of(d.id.begin(), d.id.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) ||
               std::isdigit(static_cast<unsigned char>(c)) || c == '-';
      }))
    invalid("id", "lower-case letters, digits and - only");
  if (kReservedIds.count(d.id))
    invalid("id", "\"" + d.id + "\" is reserved (for, mine and coverage are routes)");
  check_text("name", d.name, 200);
  check_text("region", d.region, 3);
  if (d.departments.empty()) invalid("departments", "at least one department");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < d.departments.size(); ++i) {
    const std::string field = "departments[" + std::to_string(i) + "]";
    check_text(field, d.departments[i], 3);
    if (!seen.insert(d.departments[i]).second) invalid(field, "listed twice");
  }
  check_text("address", d.address, 300);
  check_phone("phone", d.phone);
  check_email("email", d.email);
  if (d.contacts.size() > kMaxContacts)
    invalid("contacts", "at most " + std::to_string(kMaxContacts));
  for (std::size_t i = 0; i < d.contacts.size(); ++i)
    check_contact("contacts[" + std::to_string(i) + "].", d.contacts[i]);
}

std::int64_t next_contact_id(const Directorate& d) {
  std::int64_t last = 0;
  for (const auto& c : d.contacts) last = std::max(last, c.id);
  if (last == std::numeric_limits<std::int64_t>::max())
    throw HttpError(409, "conflict", "contact ids of " + d.id + " are exhausted");
  return last + 1;
}

void assign_contact_ids(Directorate& incoming, const Directorate* stored) {
  std::set<std::int64_t> kept;
  std::int64_t last = 0;
  if (stored)
    for (const auto& c : stored->contacts) last = std::max(last, c.id);
  for (auto& c : incoming.contacts) {
    const bool known = stored && std::any_of(stored->contacts.begin(), stored->contacts.end(),
                                             [&](const Contact& s) { return s.id == c.id; });
    if (c.id > 0 && known && kept.insert(c.id).second) continue;
    c.id = 0;
  }
  for (auto& c : incoming.contacts) {
    if (c.id != 0) continue;
    if (last == std::numeric_limits<std::int64_t>::max())
      throw HttpError(409, "conflict", "contact ids of " + incoming.id + " are exhausted");
    c.id = ++last;
  }
}

Directorate directorate_from_json(const std::string& body) {
  Directorate d = directorate_of(parse_object(body));
  validate(d);
  return d;
}

Contact contact_from_json(const std::string& body) {
  Contact c = contact_of(parse_object(body), "");
  check_contact("", c);
  return c;
}

Directorate directorate_from_document(const std::string& document) {
  return directorate_of(json::parse(document).as_object());
}

std::vector<Directorate> load_yaml(const std::string& path) {
  auto where = [&](const YAML::Node& n) {
    return path + ":" + std::to_string(n.Mark().line + 1) + ":" +
           std::to_string(n.Mark().column + 1) + ": ";
  };
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw std::runtime_error(path + ":1:1: cannot read the file");
  } catch (const YAML::ParserException& e) {
    throw std::runtime_error(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                             std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  const YAML::Node list = root["directorates"];
  if (!list || !list.IsSequence())
    throw std::runtime_error(path + ":1:1: expected a list under directorates");
  static const std::set<std::string> kKeys = {"id",      "name",  "region", "departments",
                                              "address", "phone", "email",  "contacts"};
  static const std::set<std::string> kContactKeys = {"role", "name", "email", "phone", "themes"};
  std::vector<Directorate> out;
  std::set<std::string> ids;
  for (const auto& entry : list) {
    if (!entry.IsMap())
      throw std::runtime_error(where(entry) + "each directorate must be a mapping");
    for (const auto& kv : entry)
      if (!kKeys.count(kv.first.Scalar()))
        throw std::runtime_error(where(kv.first) + "unknown key \"" + kv.first.Scalar() + "\"");
    auto scalar = [&](const YAML::Node& parent, const char* key) {
      const YAML::Node v = parent[key];
      if (!v) return std::string();
      if (!v.IsScalar()) throw std::runtime_error(where(v) + key + ": expected a text");
      return v.Scalar();
    };
    auto scalars = [&](const YAML::Node& parent, const char* key) {
      std::vector<std::string> items;
      const YAML::Node v = parent[key];
      if (!v) return items;
      if (!v.IsSequence()) throw std::runtime_error(where(v) + key + ": expected a list");
      for (const auto& x : v) items.push_back(x.Scalar());
      return items;
    };
    Directorate d{scalar(entry, "id"),      scalar(entry, "name"),
                  scalar(entry, "region"),  scalars(entry, "departments"),
                  scalar(entry, "address"), scalar(entry, "phone"),
                  scalar(entry, "email"),   {}};
    if (const YAML::Node contacts = entry["contacts"]) {
      if (!contacts.IsSequence())
        throw std::runtime_error(where(contacts) + "contacts: expected a list");
      std::int64_t id = 1;
      for (const auto& c : contacts) {
        if (!c.IsMap()) throw std::runtime_error(where(c) + "each contact must be a mapping");
        for (const auto& kv : c)
          if (!kContactKeys.count(kv.first.Scalar()))
            throw std::runtime_error(where(kv.first) + "unknown key \"" + kv.first.Scalar() + "\"");
        d.contacts.push_back({id++, scalar(c, "role"), scalar(c, "name"), scalar(c, "email"),
                              scalar(c, "phone"), scalars(c, "themes")});
      }
    }
    try {
      validate(d);
    } catch (const HttpError& e) {
      throw std::runtime_error(where(entry) + "directorate \"" + d.id + "\": " + e.what());
    }
    if (!ids.insert(d.id).second)
      throw std::runtime_error(where(entry) + "directorate \"" + d.id + "\" is listed twice");
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<KnownDepartment> known_department(const std::string& code,
                                                const Territories& territories) {
  if (const Department* d = territories.department(code))
    return KnownDepartment{d->code, d->name, d->region};
  if (const OfficialDepartment* d = official_department(code))
    return KnownDepartment{std::string(d->code), std::string(d->name), std::string(d->region)};
  return std::nullopt;
}

std::vector<std::string> coverage_problems(const std::vector<Directorate>& all,
                                           const Territories& territories) {
  std::vector<std::string> problems;
  std::map<std::string, std::vector<std::string>> covered_by;
  for (const auto& d : all)
    for (const auto& dep : d.departments) {
      covered_by[dep].push_back(d.id);
      const auto known = known_department(dep, territories);
      if (!known)
        problems.push_back("directorate " + d.id + ": department " + dep + " is unknown");
      else if (known->region != d.region)
        problems.push_back("directorate " + d.id + ": department " + dep + " is in region " +
                           known->region + ", not " + d.region);
    }
  auto twice = [&](const std::string& code, const std::string& name,
                   const std::vector<std::string>& ids) {
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : " and ") + id;
    problems.push_back("department " + code + " (" + name + ") is covered twice: " + list);
  };
  // The departments to cover, in the store's order (or the official one).
  std::vector<KnownDepartment> to_cover;
  for (const Department* dep : territories.departments())
    to_cover.push_back({dep->code, dep->name, dep->region});
  if (to_cover.empty())
    for (const auto& dep : official_departments())
      to_cover.push_back({std::string(dep.code), std::string(dep.name), std::string(dep.region)});
  std::set<std::string> seen;
  for (const auto& dep : to_cover) {
    seen.insert(dep.code);
    auto it = covered_by.find(dep.code);
    if (it == covered_by.end())
      problems.push_back("department " + dep.code + " (" + dep.name + ") is not covered");
    else if (it->second.size() > 1)
      twice(dep.code, dep.name, it->second);
  }
  // Listed twice though not to cover (outside the imported part of France): still wrong.
  for (const auto& [code, ids] : covered_by)
    if (!seen.count(code) && ids.size() > 1) {
      const auto known = known_department(code, territories);
      twice(code, known ? known->name : "unknown", ids);
    }
  return problems;
}

const Directorate* for_department(const std::vector<Directorate>& all,
                                  const std::string& department) {
  for (const auto& d : all)
    if (std::find(d.departments.begin(), d.departments.end(), department) != d.departments.end())
      return &d;
  return nullptr;
}

}  // namespace passerelle::plugins::directorates
