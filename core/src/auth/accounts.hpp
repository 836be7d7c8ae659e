// Accounts of the gateway: built-in (username + Argon2id password) or federated (linked by
// provider + subject). Knows nothing of HTTP.
#pragma once

#include "auth/roles.hpp"
#include "passerelle/host.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/task.hpp"
#include "util/job_limit.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace passerelle {

class BlockingPool;
struct CallerCaches;

/// Bad input to an account operation; what() is for the operator.
class AccountError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Account {
  std::int64_t id = 0;
  std::string username;  // empty for federated-only accounts
  std::string display_name;
  std::string email;
  std::vector<std::string> roles;
  std::string commune_insee;
  std::string siret;
  bool enabled = true;
};

struct NewAccount {
  std::string username;
  std::string password;
  std::string display_name;
  std::string email;
  std::vector<std::string> roles;
  std::string commune_insee;
  std::string siret;
};

/// What a federated login tells about the user.
struct FederatedProfile {
  std::string display_name;
  std::string email;
  std::vector<std::string> roles;
  std::string commune_insee;
  std::string siret;
  bool email_verified = false;  // the provider vouches for the address (claims.cpp)
};

/// "elu,agent" -> {"elu","agent"}; AccountError on an unknown role.
std::vector<std::string> parse_roles(const std::string& text);
std::string join_roles(const std::vector<std::string>& roles);

/// The passwords of the demo accounts: refused outside demo mode.
inline constexpr const char* kDemoPassword = "passerelle-demo";

class Accounts {
 public:
  /// `demo`: whether the demo password may be set (demo mode only). `max_pending_checks`:
  /// password checks waiting or running at once, beyond which check_password() throws PoolFull.
  /// `caches` (optional, outliving this object) forget an account's callers when it changes.
  Accounts(Database& store, BlockingPool& pool, bool demo, std::size_t max_pending_checks = 64,
           CallerCaches* caches = nullptr)
      : store_(store), pool_(pool), demo_(demo), checks_(max_pending_checks), caches_(caches) {}

  Task<std::int64_t> create(NewAccount account);
  Task<std::optional<Account>> find_by_username(std::string username);
  Task<std::optional<Account>> find_by_id(std::int64_t id);
  Task<std::vector<Account>> list();
  Task<void> set_password(std::string username, std::string password);
  Task<void> set_enabled(std::string username, bool enabled);
  Task<void> set_roles(std::string username, std::vector<std::string> roles);

  /// The enabled account whose password matches, or nothing. Takes the same time whether the
  /// username exists or not. Throws PoolFull (util/blocking_pool.hpp) at once, without
  /// queueing, when too many checks are waiting already.
  Task<std::optional<Account>> check_password(std::string username, std::string password);

  /// The account linked to (provider, subject), created or updated from the profile.
  Task<Account> link_federated(std::string provider, std::string subject, FederatedProfile profile);

  /// The identity plugins see for an account.
  static Identity identity_of(const Account& account, const std::string& provider);

  /// Refuses a password too short or too long, or the demo password outside demo mode.
  static void check_new_password(const std::string& password, bool demo);

  /// Username rule: 3 to 64 of [a-z0-9._-].
  static void check_username(const std::string& username);

 private:
  Database& store_;
  BlockingPool& pool_;
  bool demo_;
  JobLimit checks_;  // Argon2id checks waiting or running
  CallerCaches* caches_;
};

}  // namespace passerelle
