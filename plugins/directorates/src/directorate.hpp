// The regional directorates and their contacts: validation, JSON, the YAML seed file and the
// check that every department is covered exactly once. Plain functions, unit-tested.
#pragma once

#include "passerelle/sdk.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace passerelle::plugins::directorates {

/// At most this many contacts per directorate (POST, PUT and the contacts route alike).
inline constexpr std::size_t kMaxContacts = 20;

struct Contact {
  // Unique within its directorate, always assigned by the server (assign_contact_ids); in a
  // parsed body, the id the client sent (0 when none or not a positive integer).
  std::int64_t id = 0;
  std::string role, name, email, phone;
  std::vector<std::string> themes;
};

struct Directorate {
  std::string id, name, region;
  std::vector<std::string> departments;
  std::string address, phone, email;
  std::vector<Contact> contacts;
  // Stored: 1 at creation, one more at each change. In a body: the version the client read and
  // bases its change on (0 when it does not say).
  std::int64_t version = 0;
};

boost::json::object to_json(const Directorate& d);
boost::json::object to_json(const Contact& c);

/// A directorate from a JSON body; HttpError 400 (not JSON) or 422 ("field: reason").
Directorate directorate_from_json(const std::string& body);
/// A contact from a JSON body (its id is assigned by the caller).
Contact contact_from_json(const std::string& body);

/// Gives every contact of `incoming` its id. A contact whose id is one `stored` (the version
/// being replaced, or null) already has keeps it, so that a PUT does not renumber the contacts
/// others refer to; any other id sent by the client is ignored and a fresh one assigned.
void assign_contact_ids(Directorate& incoming, const Directorate* stored);

/// The id for one more contact of `d`; HttpError 409 if ids are exhausted (never in practice:
/// the server assigns them one by one).
std::int64_t next_contact_id(const Directorate& d);
/// A stored document (already valid).
Directorate directorate_from_document(const std::string& document);

/// Throws HttpError 422 naming the field when a directorate is not acceptable on its own.
void validate(const Directorate& d);

/// The directorates of a YAML file; std::runtime_error "file:line:col: message" when invalid.
std::vector<Directorate> load_yaml(const std::string& path);

/// A department as the plugin knows it: from the imported territories when they hold it, else
/// from the official list (france.hpp); null when neither knows the code.
struct KnownDepartment {
  std::string code, name, region;
};
std::optional<KnownDepartment> known_department(const std::string& code,
                                                const Territories& territories);

/// What is wrong with the coverage of France's departments: each directorate's departments
/// known (imported territories, else the official list) and in its region; no department in
/// two directorates; every department to cover in exactly one, where the departments to cover
/// are those of the imported territories, or the official 101 when none are imported. So a
/// store holding only part of France (the test fixture of an offline demo) accepts the seed of
/// the whole country.
std::vector<std::string> coverage_problems(const std::vector<Directorate>& all,
                                           const Territories& territories);

/// The directorate covering a department, or null.
const Directorate* for_department(const std::vector<Directorate>& all,
                                  const std::string& department);

}  // namespace passerelle::plugins::directorates
