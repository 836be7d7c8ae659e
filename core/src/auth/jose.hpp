// JSON Web Signatures over cjose: verification of ID tokens against a JWKS with an algorithm
// allow-list, and ES256 signing of the gateway's own identity tokens.
#pragma once

#include <boost/json/object.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace passerelle::jose {

/// A verified token: its protected header and its claims.
struct Token {
  boost::json::object header;
  boost::json::object claims;
};

/// A set of public keys, by kid (JWKS). Keys of unknown type or use "enc" are skipped.
class KeySet {
 public:
  KeySet();
  ~KeySet();
  KeySet(KeySet&&) noexcept;
  KeySet& operator=(KeySet&&) noexcept;

  /// Parses a JWKS document; std::nullopt when it is not one.
  static std::optional<KeySet> parse(const std::string& json);
  std::size_t size() const;

  /// Why `compact` does not verify, or the token. `algorithms` is the allow-list ("none" and
  /// HMAC are never accepted). A token without kid is tried against the only key of its type.
  struct Result {
    std::optional<Token> token;
    std::string error;
    bool unknown_kid = false;  // the caller may refetch the JWKS once
  };
  Result verify(const std::string& compact, const std::vector<std::string>& algorithms) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Header and claims without checking the signature (to read "kid" and "alg" only).
std::optional<Token> peek(const std::string& compact);

/// An ES256 private key of the gateway.
class SigningKey {
 public:
  ~SigningKey();
  SigningKey(SigningKey&&) noexcept;
  /// A fresh P-256 key with a random kid.
  static SigningKey generate();
  /// From the private JWK JSON of to_private_json().
  static SigningKey from_private_json(const std::string& json);
  std::string to_private_json() const;
  /// The public JWK (kty, crv, x, y, kid, use, alg).
  boost::json::object public_jwk() const;
  const std::string& kid() const { return kid_; }
  /// A compact JWS of `claims` with alg ES256, typ JWT and this kid.
  std::string sign(const boost::json::object& claims) const;

 private:
  SigningKey() = default;
  void* jwk_ = nullptr;
  std::string kid_;
};

}  // namespace passerelle::jose
