// The gateway as an OpenID Connect relying party of one provider: discovery, authorization
// request (PKCE S256, state, nonce), code exchange, ID token and logout token validation with
// JWKS rotation, userinfo (JSON or signed JWT), RP-initiated logout URL.
#pragma once

#include "auth/jose.hpp"
#include "config/config.hpp"
#include "passerelle/host.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace passerelle::oidc {

struct Discovery {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string userinfo_endpoint;
  std::string end_session_endpoint;
};

/// A successful code exchange: the validated ID token and what came with it.
struct Login {
  boost::json::object claims;  // ID token claims, merged with userinfo when configured
  std::string subject;
  std::string sid;
  std::string id_token;
  std::string refresh_token;
};

/// Who a back-channel logout token names.
struct LogoutRequest {
  std::string sid;
  std::string sub;
};

/// Why the claims of an ID token are not acceptable (iss, aud, azp, exp, iat, nonce, sub), or
/// empty. `now` in seconds since the epoch.
std::string check_id_token_claims(const boost::json::object& claims, const OidcProviderConfig& config,
                                  const std::string& nonce, std::int64_t now);

/// Why the claims of a back-channel logout token are not acceptable, or empty.
std::string check_logout_token_claims(const boost::json::object& claims, const OidcProviderConfig& config,
                                      std::int64_t now);

class RelyingParty {
 public:
  /// `public_url` is read at each use (it is known only once the listener is bound).
  RelyingParty(OidcProviderConfig config, HttpClient& http, const std::string& public_url);

  const OidcProviderConfig& config() const { return config_; }
  std::string redirect_uri() const;

  /// The URL to send the browser to.
  Task<std::string> authorization_url(std::string state, std::string nonce, std::string code_challenge);

  /// Exchanges the code and validates everything; HttpError 400/502 with a public reason.
  Task<Login> complete(std::string code, std::string code_verifier, std::string nonce);

  /// Validates a back-channel logout token; HttpError 400 when it is not acceptable.
  Task<LogoutRequest> check_logout_token(std::string token);

  /// The provider's end-session URL for this ID token, when discovery gave one (no network).
  std::string end_session_url(const std::string& id_token) const;

  /// Time allowed between clocks.
  static constexpr std::chrono::seconds kLeeway{120};

 private:
  Task<Discovery> discovery();
  Task<jose::Token> verify(std::string compact);
  Task<void> refresh_keys(bool force);
  Task<boost::json::object> fetch_json(std::string url, std::string bearer);

  OidcProviderConfig config_;
  HttpClient& http_;
  const std::string& public_url_;
  mutable std::mutex mutex_;
  std::optional<Discovery> discovery_;
  std::shared_ptr<const jose::KeySet> keys_;
  std::chrono::steady_clock::time_point last_forced_refresh_{};
  std::chrono::steady_clock::time_point keys_loaded_{};
};

}  // namespace passerelle::oidc
