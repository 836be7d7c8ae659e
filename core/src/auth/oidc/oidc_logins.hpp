// The routes of federated sign-in: /auth/oidc/<provider>/start, /callback and
// /backchannel-logout, for every provider of the config.
#pragma once

#include "auth/oidc/relying_party.hpp"
#include "http/route_spec.hpp"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace passerelle {

class AuthService;
class SqliteStore;

class OidcLogins {
 public:
  OidcLogins(AuthService& auth, SqliteStore& store, HttpClient& http,
             const std::vector<OidcProviderConfig>& providers, const std::string& public_url);

  std::vector<CoreRoute> routes();

  /// Where to send the browser after a logout of a federated session (RP-initiated logout).
  std::string end_session_url(const AuthContext& context) const;

  /// (name, label) of each provider, for the login page.
  std::vector<std::pair<std::string, std::string>> providers() const;

 private:
  using Query = std::map<std::string, std::string>;  // decoded by the dispatcher
  Task<Response> start(oidc::RelyingParty& rp, IncomingRequest& in, Query& query);
  Task<Response> callback(oidc::RelyingParty& rp, IncomingRequest& in, Query& query);
  Task<Response> backchannel_logout(oidc::RelyingParty& rp, IncomingRequest& in);

  AuthService& auth_;
  SqliteStore& store_;
  std::vector<std::unique_ptr<oidc::RelyingParty>> parties_;
};

}  // namespace passerelle
