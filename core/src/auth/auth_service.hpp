// Authentication of the gateway: built-in accounts, sessions, API tokens, login throttling.
// Turns a request into an AuthContext; knows nothing of plugins.
#pragma once

#include "auth/accounts.hpp"
#include "auth/api_tokens.hpp"
#include "auth/auth_context.hpp"
#include "auth/caller_cache.hpp"
#include "auth/secret_box.hpp"
#include "auth/sessions.hpp"
#include "auth/throttle.hpp"
#include "config/config.hpp"
#include "http/incoming.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <optional>

namespace passerelle {

class Store;
class BlockingPool;

inline constexpr const char* kSessionCookie = "__Host-passerelle";

class AuthService {
 public:
  /// Reads the secret key (config.secret_key, or the key file, created when missing): throws
  /// std::runtime_error naming the file when it cannot.
  AuthService(Store& store, BlockingPool& pool, const AuthConfig& config, bool demo);

  Accounts& accounts() { return accounts_; }
  Sessions& sessions() { return sessions_; }
  ApiTokens& tokens() { return tokens_; }
  LoginThrottle& throttle() { return throttle_; }
  /// The key of the secrets at rest (outside the database).
  const SecretBox& secrets() const { return secrets_; }
  bool demo() const { return demo_; }

  /// Session cookie or bearer token -> identity; nothing when anonymous or invalid. Asks the
  /// store, and keeps what it says in the caller caches.
  Task<std::optional<AuthContext>> authenticate(const IncomingRequest& request);

  /// The same from memory, on the calling thread: the caller (or anonymous) when known without
  /// the store, else nothing (then call authenticate()). A use to write back goes to the store
  /// through `executor` without being waited for.
  std::optional<std::optional<AuthContext>> authenticate_now(
      const IncomingRequest& request, const boost::asio::any_io_executor& executor);

  CallerCaches& caches() { return caches_; }

  /// Opens a session and returns the Set-Cookie value.
  Task<std::string> open_session(const Account& account, std::string provider,
                                 const OidcSessionInfo* oidc = nullptr);

  /// Set-Cookie values for a session cookie, and for its removal.
  std::string session_cookie(const std::string& value) const;
  static std::string clear_session_cookie();

  /// Demo mode: the four demo accounts of Angers, created when missing.
  Task<void> seed_demo_accounts();
  /// Production: refuses to start while a demo account still has the demo password.
  Task<void> refuse_demo_passwords();
  /// Seals the secrets that older versions kept in plain text (provider tokens of sessions).
  Task<void> seal_stored_secrets();

 private:
  Store& store_;
  SecretBox secrets_;    // before the sessions, which use it
  CallerCaches caches_;  // before the users that forget entries in it
  Accounts accounts_;
  Sessions sessions_;
  ApiTokens tokens_;
  LoginThrottle throttle_;
  bool demo_;
};

}  // namespace passerelle
