// The routes of federated sign-in: /auth/oidc/<provider>/start, /callback and
// /backchannel-logout, for every provider of the config.
#pragma once

#include "auth/oidc/relying_party.hpp"
#include "auth/replay_set.hpp"
#include "http/route_spec.hpp"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace passerelle {

class AuthService;
class Store;

class OidcLogins {
 public:
  OidcLogins(AuthService& auth, Store& store, HttpClient& http,
             const std::vector<OidcProviderConfig>& providers, const std::string& public_url);

  std::vector<CoreRoute> routes();

  /// Where to send the browser after a logout of a federated session (RP-initiated logout).
  std::string end_session_url(const AuthContext& context) const;

  /// (name, label) of each provider, for the login page.
  std::vector<std::pair<std::string, std::string>> providers() const;

  /// Discovery of every provider at start-up, in the background: a wrong issuer is said in the
  /// log at once, and a provider that cannot be reached is tried again later (with a growing
  /// pause) while the gateway serves.
  Task<void> discover_all();

 private:
  using Query = std::map<std::string, std::string>;  // decoded by the dispatcher
  Task<Response> start(oidc::RelyingParty& rp, IncomingRequest& in, Query& query);
  Task<Response> callback(oidc::RelyingParty& rp, IncomingRequest& in, Query& query);
  Task<Response> backchannel_logout(oidc::RelyingParty& rp, IncomingRequest& in);

  AuthService& auth_;
  Store& store_;  // invitations taken at a federated login
  std::vector<std::unique_ptr<oidc::RelyingParty>> parties_;
  // Hashes of the states of sign-ins already completed, until they expire (10 min): 50,000 is
  // over 80 sign-ins a second. When full, the oldest goes: its code was single-use anyway.
  ReplaySet used_states_{50'000};
};

}  // namespace passerelle
