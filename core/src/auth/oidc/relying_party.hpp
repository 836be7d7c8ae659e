// The gateway as an OpenID Connect relying party of one provider: discovery, authorization
// request (PKCE S256, state, nonce), code exchange, ID token and logout token validation with
// JWKS rotation, userinfo (JSON or signed JWT), RP-initiated logout URL.
#pragma once

#include "auth/jose.hpp"
#include "auth/replay_set.hpp"
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
std::string check_id_token_claims(const boost::json::object& claims,
                                  const OidcProviderConfig& config, const std::string& nonce,
                                  std::int64_t now);

/// Why the claims of a back-channel logout token are not acceptable, or empty.
std::string check_logout_token_claims(const boost::json::object& claims,
                                      const OidcProviderConfig& config, std::int64_t now);

/// Why the protected header of a logout token is not acceptable (a `typ` other than
/// logout+jwt), or empty. Back-Channel Logout 1.0 §2.4: a token typed for another use (an ID
/// token, say) must not pass for a logout token.
std::string check_logout_token_header(const boost::json::object& header);

/// OpenID Connect Discovery 1.0 §4: the issuer without its terminating "/", then
/// "/.well-known/openid-configuration".
std::string discovery_url(const std::string& issuer);

/// Why a discovery document is not acceptable for `issuer` (another issuer, a missing endpoint,
/// an endpoint that is not https:// — http:// only on a loopback host, for tests), or empty.
std::string check_discovery(const Discovery& discovery, const std::string& issuer);

class RelyingParty {
 public:
  /// `public_url` is read at each use (it is known only once the listener is bound).
  RelyingParty(OidcProviderConfig config, HttpClient& http, const std::string& public_url);

  const OidcProviderConfig& config() const { return config_; }
  std::string redirect_uri() const;

  /// The URL to send the browser to.
  Task<std::string> authorization_url(std::string state, std::string nonce,
                                      std::string code_challenge);

  /// Exchanges the code and validates everything; HttpError 400/502 with a public reason.
  Task<Login> complete(std::string code, std::string code_verifier, std::string nonce);

  /// Validates a back-channel logout token; HttpError 400 when it is not acceptable.
  Task<LogoutRequest> check_logout_token(std::string token);

  /// The provider's end-session URL for this ID token, when discovery gave one (no network).
  std::string end_session_url(const std::string& id_token) const;

  /// Fetches discovery and keys when not held yet (start-up); logs what went wrong. Whether
  /// discovery is now held.
  Task<bool> discover();

  /// Time allowed between clocks.
  static constexpr std::chrono::seconds kLeeway{120};
  /// Fetches of discovery and keys start at most once per interval for an unknown key id, and
  /// not again within it after a failure: forged tokens or a provider down cost no flood.
  static constexpr std::chrono::seconds kRefreshInterval{10};
  /// Keys are reloaded this often, so that a key the provider withdrew stops verifying.
  static constexpr std::chrono::hours kKeysMaxAge{1};

 private:
  struct Flight;
  using Clock = std::chrono::steady_clock;

  Task<Discovery> discovery(const char* refused);
  /// `refused`: the words of the log line when the token is refused ("login refused", ...).
  Task<jose::Token> verify(std::string compact, const char* refused);
  /// Fetches discovery then keys, one fetch at a time: callers that come while one runs wait
  /// for it. `newer_keys`: a token named a key id we do not hold.
  Task<void> refresh(bool newer_keys);
  Task<void> fetch_discovery_and_keys();
  Task<boost::json::object> fetch_json(std::string url);
  std::shared_ptr<const jose::KeySet> held_keys() const;

  OidcProviderConfig config_;
  HttpClient& http_;
  const std::string& public_url_;
  mutable std::mutex mutex_;  // never held across a co_await
  std::optional<Discovery> discovery_;
  std::shared_ptr<const jose::KeySet> keys_;
  Clock::time_point keys_loaded_{};
  std::optional<Clock::time_point> last_forced_;   // last refresh for an unknown key id
  std::optional<Clock::time_point> last_failure_;  // last refresh that failed
  std::string last_error_;
  std::shared_ptr<Flight> flight_;        // the refresh under way, if any
  ReplaySet used_logout_tokens_{10'000};  // jti of accepted logout tokens, until they expire
};

}  // namespace passerelle::oidc
