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
  std::string commune_insee;  ///< INSEE code of the user's commune, e.g. "49007"; may be empty.
  std::string siret;          ///< SIRET of the user's organisation; may be empty.
  std::string provider;       ///< "local" for built-in accounts, else the OIDC provider name.

  /// True when the identity holds the given role.
  bool has_role(const std::string& role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
  }
};

}  // namespace passerelle
