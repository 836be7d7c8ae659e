// From an OpenID provider's claims to the gateway's profile of a user: the claim mapping and
// role rules of the provider's config. Pure functions.
#pragma once

#include "auth/accounts.hpp"
#include "config/config.hpp"

#include <boost/json/object.hpp>

namespace passerelle::oidc {

/// Identity fields from `claims` per `config.claims` (defaults: the standard claim names), and
/// roles from `config.roles` plus `config.default_roles`.
FederatedProfile map_claims(const OidcProviderConfig& config, const boost::json::object& claims);

}  // namespace passerelle::oidc
