// The regional directorates and their contacts: validation, JSON, the YAML seed file and the
// check that every department is covered exactly once. Plain functions, unit-tested.
#pragma once

#include "passerelle/sdk.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace passerelle::plugins::directorates {

struct Contact {
  std::int64_t id = 0;  // unique within its directorate
  std::string role, name, email, phone;
  std::vector<std::string> themes;
};

struct Directorate {
  std::string id, name, region;
  std::vector<std::string> departments;
  std::string address, phone, email;
  std::vector<Contact> contacts;
};

boost::json::object to_json(const Directorate& d);
boost::json::object to_json(const Contact& c);

/// A directorate from a JSON body; HttpError 400 (not JSON) or 422 ("field: reason").
Directorate directorate_from_json(const std::string& body);
/// A contact from a JSON body (its id is assigned by the caller).
Contact contact_from_json(const std::string& body);
/// A stored document (already valid).
Directorate directorate_from_document(const std::string& document);

/// Throws HttpError 422 naming the field when a directorate is not acceptable on its own.
void validate(const Directorate& d);

/// The directorates of a YAML file; std::runtime_error "file:line:col: message" when invalid.
std::vector<Directorate> load_yaml(const std::string& path);

/// What is wrong with the coverage of France's departments: each department of `territories`
/// in exactly one directorate, each directorate's departments known and in its region.
std::vector<std::string> coverage_problems(const std::vector<Directorate>& all, const Territories& territories);

/// The directorate covering a department, or null.
const Directorate* for_department(const std::vector<Directorate>& all, const std::string& department);

}  // namespace passerelle::plugins::directorates
