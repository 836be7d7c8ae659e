// A sign-in in progress (state, nonce, PKCE verifier, next, expiry) carried by the browser in a
// sealed cookie: starting a sign-in costs no write to the store, and only this gateway can
// read or make one.
#pragma once

#include "auth/secret_box.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace passerelle::oidc {

struct PendingLogin {
  std::string provider;
  std::string state;
  std::string nonce;
  std::string verifier;         // PKCE code_verifier
  std::string next;             // where to go after the sign-in
  std::int64_t expires_at = 0;  // seconds since the epoch
};

/// The cookie value (base64url).
std::string seal_pending_login(const PendingLogin& login, const SecretBox& secrets);

/// The login of a cookie value, or nothing when it was not sealed by this key or is malformed.
/// Expiry is the caller's to check.
std::optional<PendingLogin> open_pending_login(const std::string& cookie, const SecretBox& secrets);

}  // namespace passerelle::oidc
