// Who made a request, and how: what the dispatcher needs to authorize and check CSRF.
#pragma once

#include "auth/sessions.hpp"
#include "passerelle/identity.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace passerelle {

struct AuthContext {
  Identity identity;
  std::int64_t user_id = 0;    // the account, for routes about the caller's own sessions
  bool via_cookie = false;     // session cookie (CSRF applies) or bearer token (it does not)
  std::string session_cookie;  // the cookie value, when via_cookie
  /// The session, shared with the caller cache: copying it into every request's context cost
  /// a handful of allocations (its tokens and ids) per request.
  std::shared_ptr<const SessionRecord> session;
};

}  // namespace passerelle
