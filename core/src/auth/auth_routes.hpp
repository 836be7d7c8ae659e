// /auth/login (form and JSON), /auth/logout and /api/me.
#pragma once

#include "http/route_spec.hpp"

#include <functional>
#include <vector>

namespace passerelle {

class AuthService;

/// Extra work at logout for federated sessions: the provider's end-session URL, or empty.
using FederatedLogout = std::function<std::string(const AuthContext&)>;

/// GET and POST /auth/login, POST /auth/logout, GET /api/me.
std::vector<CoreRoute> auth_routes(AuthService& auth, FederatedLogout federated_logout,
                                   std::vector<std::pair<std::string, std::string>> providers);

/// Whether `next` is a path of this site we may redirect to after login (no open redirect).
bool is_safe_next(const std::string& next);

}  // namespace passerelle
