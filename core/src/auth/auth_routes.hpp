// /auth/login (form and JSON), /auth/logout, /auth/providers, /api/me and the caller's sessions.
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

/// Whether the portal serves its login page (/connexion) now: GET /auth/login then sends
/// browsers there instead of answering its own form. Null: never.
using PortalLogin = std::function<bool()>;

/// GET and POST /auth/login, POST /auth/logout, POST /auth/logout-everywhere,
/// GET /auth/providers, GET /api/me, GET /api/me/sessions, DELETE /api/me/sessions/{id}.
std::vector<CoreRoute> auth_routes(AuthService& auth, FederatedLogout federated_logout,
                                   Providers providers, PortalLogin portal_login = nullptr);

/// Whether `next` is a path of this site we may redirect to after login (no open redirect).
bool is_safe_next(const std::string& next);

}  // namespace passerelle
