// Server-side sessions: the cookie carries 256 random bits; the store keeps only their SHA-256,
// so a leaked database does not leak live sessions, and the provider's tokens kept with a
// session are sealed with the key kept outside the database.
#pragma once

#include "passerelle/host.hpp"
#include "passerelle/task.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace passerelle {

class SqliteStore;
class SecretBox;

struct SessionPolicy {
  std::chrono::seconds idle_timeout{30 * 60};
  std::chrono::seconds absolute_timeout{12 * 3600};
};

/// Extra facts kept with a session opened through OpenID Connect.
struct OidcSessionInfo {
  std::string sid;            // the provider's session id (back-channel logout)
  std::string sub;            // the provider's subject
  std::string id_token;       // for RP-initiated logout (id_token_hint)
  std::string refresh_token;  // never leaves the server
};

struct SessionRecord {
  std::int64_t user_id = 0;
  std::string provider;  // "local" or the OIDC provider's name
  std::string csrf_token;
  OidcSessionInfo oidc;
};

class Sessions {
 public:
  /// `secrets` must outlive this object.
  Sessions(SqliteStore& store, const SecretBox& secrets, SessionPolicy policy)
      : store_(store), secrets_(secrets), policy_(policy) {}

  /// Opens a session; returns the cookie value (never stored as such). `oidc` may be null.
  /// (A pointer, not a defaulted value: g++ 12 destroys defaulted class prvalues of a co_await
  /// expression twice.)
  Task<std::string> create(std::int64_t user_id, std::string provider, const OidcSessionInfo* oidc);

  /// The live session of a cookie value, touching its idle clock; nothing when unknown,
  /// expired (then deleted) or malformed.
  Task<std::optional<SessionRecord>> resolve(std::string cookie_value);

  /// Ends one session.
  Task<void> destroy(std::string cookie_value);

  /// Ends the sessions a provider's back-channel logout names: by sid and sub when both are
  /// given (both must match), else by the one given.
  Task<int> destroy_federated(std::string provider, std::string sid, std::string sub);

  const SessionPolicy& policy() const { return policy_; }

  /// Seals the provider tokens that older versions stored in plain text; returns how many
  /// sessions were changed. Run once at start-up, before serving.
  Task<int> seal_plaintext_tokens();

 private:
  SqlValue seal(const std::string& value, const char* context) const;
  std::string open(const SqlValue& value, const char* context) const;

  SqliteStore& store_;
  const SecretBox& secrets_;
  SessionPolicy policy_;
};

}  // namespace passerelle
