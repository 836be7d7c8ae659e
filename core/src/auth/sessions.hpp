// Server-side sessions: the cookie carries 256 random bits; the store keeps only their SHA-256,
// so a leaked database does not leak live sessions, and the provider's tokens kept with a
// session are sealed with the key kept outside the database.
#pragma once

#include "passerelle/host.hpp"
#include "passerelle/task.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

class Store;
class SecretBox;
class CallerCache;

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
  std::int64_t created_at = 0;  // epoch seconds
  std::int64_t last_seen = 0;   // the idle clock as the store has it, epoch seconds
  // The organisation the user acts for in this session (orgs/current_organisation.hpp); empty
  // when chosen at each request (the user was a member of none at login).
  std::string organisation;
};

/// What a user may see of one of their sessions: never the cookie nor its stored hash.
struct SessionSummary {
  std::string id;  // public id: see Sessions::public_id
  std::string provider;
  std::int64_t created_at = 0;  // epoch seconds
  std::int64_t last_seen = 0;   // epoch seconds (touched at most once a minute)
};

class Sessions {
 public:
  /// `secrets` and `cache` must outlive this object. Every session ended here is forgotten by
  /// `cache` (when given) at once.
  Sessions(Store& store, const SecretBox& secrets, SessionPolicy policy,
           CallerCache* cache = nullptr)
      : store_(store), secrets_(secrets), policy_(policy), cache_(cache) {}

  /// Opens a session acting for `organisation` (may be empty); returns the cookie value (never
  /// stored as such). `oidc` may be null. (A pointer, not a defaulted value: g++ 12 destroys
  /// defaulted class prvalues of a co_await expression twice.)
  Task<std::string> create(std::int64_t user_id, std::string provider, const OidcSessionInfo* oidc,
                           std::string organisation);

  /// The live session of a cookie value, touching its idle clock; nothing when unknown,
  /// expired (then deleted) or malformed. `seen`: a later use known in memory (epoch seconds,
  /// 0 when none), which counts for the idle timeout as the stored one does.
  Task<std::optional<SessionRecord>> resolve(std::string cookie_value, std::int64_t seen = 0);

  /// Whether a cookie value has the shape of one this gateway gives (else: anonymous).
  static bool well_formed(const std::string& cookie_value) { return cookie_value.size() == 43; }

  /// Tells the store of a use seen in memory, off the caller's thread (the statement runs on
  /// the store pool; a failure is logged): the idle clock is written lazily, not per request.
  void touch_later(const boost::asio::any_io_executor& executor, std::string id_hash,
                   std::int64_t seen);

  /// Ends one session.
  Task<void> destroy(std::string cookie_value);

  /// Ends the sessions a provider's back-channel logout names: by sid and sub when both are
  /// given (both must match), else by the one given.
  Task<int> destroy_federated(std::string provider, std::string sid, std::string sub);

  /// The public id of the session a cookie opens: 16 hex characters of SHA-256 of the stored
  /// hash, so it names a session without letting anyone find its cookie or its row.
  static std::string public_id(const std::string& cookie_value);

  /// The live sessions of a user, oldest first (expired ones are left for resolve to delete).
  Task<std::vector<SessionSummary>> list_for_user(std::int64_t user_id);

  /// Ends the session of `user_id` whose public id is `id`; false when it has none such.
  Task<bool> destroy_by_public_id(std::int64_t user_id, std::string id);

  /// Ends every session of a user; returns how many.
  Task<int> destroy_all_for_user(std::int64_t user_id);

  const SessionPolicy& policy() const { return policy_; }

  /// Seals the provider tokens that older versions stored in plain text; returns how many
  /// sessions were changed. Run once at start-up, before serving.
  Task<int> seal_plaintext_tokens();

 private:
  SqlValue seal(const std::string& value, const char* context) const;
  std::string open(const SqlValue& value, const char* context) const;

  Store& store_;
  const SecretBox& secrets_;
  SessionPolicy policy_;
  CallerCache* cache_;
};

}  // namespace passerelle
