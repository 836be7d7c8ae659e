// Who is calling: the only facts about a user that a plugin ever sees.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace passerelle {

/// The authenticated user of a request. Plugins never see passwords, cookies or tokens.
struct Identity {
  std::string subject;             ///< Stable identifier of the account in the gateway.
  std::string display_name;        ///< Name to show, e.g. "Marie Dupont".
  std::string email;               ///< Email address, may be empty.
  std::vector<std::string> roles;  ///< Any of "elu", "agent", "advisor", "operator".
  /// INSEE code of the commune the user acts for, e.g. "49007": that of the current
  /// organisation when it is a commune, empty when it is an intercommunality; may be empty.
  std::string commune_insee;
  std::string siret;     ///< SIRET of the user's organisation; may be empty.
  std::string provider;  ///< "local" for built-in accounts, else the OIDC provider name.
  /// The organisation the user acts for now (delegated administration): a commune's INSEE code
  /// or an intercommunality's SIREN; empty when none. A user member of several switches.
  std::string organisation;
  /// "referent" or "delegue" in `organisation`; empty when not a member of it.
  std::string organisation_role;
  /// The services (plugin names) granted in `organisation`; {"*"}: every service (an
  /// organisation that has no référent yet manages nothing: its users keep every service).
  std::vector<std::string> services;

  /// True when the identity holds the given role.
  bool has_role(const std::string& role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  }
  /// True when the user may use the service (plugin) `name` in the current organisation. The
  /// bank's staff (advisors, operators) are members of no organisation and use every service.
  bool may_use(const std::string& name) const {
    if (has_role("advisor") || has_role("operator")) return true;
    return std::any_of(services.begin(), services.end(),
                       [&](const std::string& s) { return s == "*" || s == name; });
  }
};

}  // namespace passerelle
