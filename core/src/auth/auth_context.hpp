// Who made a request, and how: what the dispatcher needs to authorize and check CSRF.
#pragma once

#include "auth/sessions.hpp"
#include "passerelle/identity.hpp"

#include <optional>
#include <string>

namespace passerelle {

struct AuthContext {
  Identity identity;
  bool via_cookie = false;     // session cookie (CSRF applies) or bearer token (it does not)
  std::string session_cookie;  // the cookie value, when via_cookie
  std::optional<SessionRecord> session;
};

}  // namespace passerelle
