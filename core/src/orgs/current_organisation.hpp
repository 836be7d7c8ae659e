// The organisation a user acts for, and the services granted there (delegated administration):
// what the Identity handed to plugins says (organisation, organisation_role, services), read
// from the memberships when the caller is looked up in the store, then kept with the caller.
#pragma once

#include "passerelle/identity.hpp"
#include "passerelle/task.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

class Database;

struct Membership {
  std::string organisation;  // INSEE code or SIREN
  std::string role;          // "referent" | "delegue"
  std::vector<std::string> services;
};

/// What a user's memberships make of a request.
struct Acting {
  std::string organisation;  // "" when none
  std::string role;          // "" when not a member of it
  std::vector<std::string> services;
  bool every_service = false;  // an organisation without référent: Identity::every_service
};

/// The rules, without the store. `mine`: the user's memberships, by code; `chosen`: the
/// session's organisation ("" when the user was a member of none at login, or a bearer token);
/// `commune`: the account's commune; `commune_managed`: whether it has members (a référent
/// appointed). Nothing when `chosen` is no longer one of `mine`: the session ends.
/// - a member acts for `chosen`, else for the membership of their commune, else the first;
/// - a member of nothing acts for their commune: with every service while it has no référent,
///   with none once it has (its référent decides), nor when the account has no commune.
std::optional<Acting> choose_organisation(const std::vector<Membership>& mine,
                                          const std::string& chosen, const std::string& commune,
                                          bool commune_managed);

/// The user's memberships, and whether `commune` has any member.
struct MembershipFacts {
  std::vector<Membership> mine;
  bool commune_managed = false;
};
Task<MembershipFacts> read_memberships(Database& store, std::int64_t user_id, std::string commune);

/// Sets the organisation fields of `identity` (and its commune_insee, that of the organisation
/// when it is a commune); false when the session's `chosen` organisation is no longer the
/// user's.
bool apply_organisation(const MembershipFacts& facts, const std::string& chosen,
                        Identity& identity);

/// "a b" <-> {"a", "b"}: how a membership's services are stored.
std::vector<std::string> split_services(const std::string& stored);
std::string join_services(const std::vector<std::string>& services);

}  // namespace passerelle
