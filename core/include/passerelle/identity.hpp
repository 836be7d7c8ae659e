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
  /// The services (plugin names) granted in `organisation`.
  std::vector<std::string> services;
  /// Every service, whatever `services` says: an organisation with no référent yet manages
  /// nothing, and its users keep every service. (A flag rather than a "*" in `services`: the
  /// identity is copied per request and per widget, and an empty vector costs no allocation.)
  bool every_service = false;

  /// True when the identity holds the given role.
  bool has_role(const std::string& role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  }
  /// True when the user may use the service (plugin) `name` in the current organisation. The
  /// bank's staff (advisors, operators) are members of no organisation and use every service.
  bool may_use(const std::string& name) const {
    if (every_service || has_role("advisor") || has_role("operator")) return true;
    return std::find(services.begin(), services.end(), name) != services.end();
  }
};

}  // namespace passerelle
