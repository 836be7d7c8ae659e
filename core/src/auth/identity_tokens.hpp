// Short-lived signed identity tokens (JWT, ES256) for proxied services, and the JWKS that
// publishes their public key at /.well-known/jwks.json.
#pragma once

#include "auth/jose.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/task.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace passerelle {

class Store;
class SecretBox;

class IdentityTokens {
 public:
  /// `issuer`: the gateway's public URL, read at each use (it is known only once the listener
  /// is bound); it must outlive this object.
  /// `now`: the clock, in seconds since the epoch (the system's by default).
  explicit IdentityTokens(const std::string& issuer,
                          std::function<std::int64_t()> now = system_seconds)
      : issuer_(issuer), now_(std::move(now)) {}

  /// Loads the signing key from the store, generating and keeping one at first start. The
  /// private key is stored sealed with `secrets` (a plain-text key of an older version is sealed
  /// in place); std::runtime_error when the stored key does not open with `secrets`.
  Task<void> load(Store& store, const SecretBox& secrets);

  /// {"keys":[...]} with the public key.
  boost::json::object jwks() const;

  /// A JWT for `identity`, audience `audience`, valid `ttl` (clamped to 1 s .. 10 min). The
  /// same claims minted again within half that life get the same token (thread-safe): an ES256
  /// signature costs more than the rest of a proxied request, and what an upstream receives
  /// always has at least half its life left.
  std::string mint(const Identity& identity, const std::string& audience,
                   std::chrono::seconds ttl = std::chrono::seconds(60)) const;

  static std::int64_t system_seconds();

 private:
  struct Minted {
    std::string token;
    std::int64_t issued;
  };
  static constexpr std::size_t kMaxCached = 4096;  // then emptied: a bound, not a policy

  const std::string& issuer_;
  std::function<std::int64_t()> now_;
  std::optional<jose::SigningKey> key_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, Minted> minted_;  // by claims but times, and ttl
};

}  // namespace passerelle
