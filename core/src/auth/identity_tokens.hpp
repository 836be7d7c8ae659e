// Short-lived signed identity tokens (JWT, ES256) for proxied services, and the JWKS that
// publishes their public key at /.well-known/jwks.json.
#pragma once

#include "auth/jose.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/task.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace passerelle {

class Store;
class SecretBox;

class IdentityTokens {
 public:
  /// `issuer`: the gateway's public URL, read at each use (it is known only once the listener
  /// is bound); it must outlive this object.
  explicit IdentityTokens(const std::string& issuer) : issuer_(issuer) {}

  /// Loads the signing key from the store, generating and keeping one at first start. The
  /// private key is stored sealed with `secrets` (a plain-text key of an older version is sealed
  /// in place); std::runtime_error when the stored key does not open with `secrets`.
  Task<void> load(Store& store, const SecretBox& secrets);

  /// {"keys":[...]} with the public key.
  boost::json::object jwks() const;

  /// A JWT for `identity`, audience `audience`, valid `ttl` (clamped to 1 s .. 10 min).
  std::string mint(const Identity& identity, const std::string& audience,
                   std::chrono::seconds ttl = std::chrono::seconds(60)) const;

 private:
  const std::string& issuer_;
  std::optional<jose::SigningKey> key_;
};

}  // namespace passerelle
