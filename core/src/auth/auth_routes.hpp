// /auth/login (form and JSON), /auth/logout, /auth/providers and /api/me.
#pragma once

#include "http/route_spec.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace passerelle {

class AuthService;

/// Extra work at logout for federated sessions: the provider's end-session URL, or empty.
using FederatedLogout = std::function<std::string(const AuthContext&)>;

/// (name, label) of each OpenID Connect provider, for the links of the login page.
using Providers = std::vector<std::pair<std::string, std::string>>;

/// GET and POST /auth/login, POST /auth/logout, GET /auth/providers, GET /api/me.
std::vector<CoreRoute> auth_routes(AuthService& auth, FederatedLogout federated_logout,
                                   Providers providers);

/// Whether `next` is a path of this site we may redirect to after login (no open redirect).
bool is_safe_next(const std::string& next);

}  // namespace passerelle
