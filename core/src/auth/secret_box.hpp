// Authenticated encryption of the secrets the gateway keeps (provider tokens of sessions, its
// private signing key, logins in progress) with a key that lives outside the database: a copied
// database alone gives neither the tokens nor the power to sign identity tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace passerelle {

struct AuthConfig;

class SecretBox {
 public:
  /// The key of the config: `secret_key` (base64url of 32 bytes) when set, else the key file,
  /// created with mode 0600 and a random key when missing. std::runtime_error with the path and
  /// what is wrong when the key cannot be had.
  static SecretBox from_config(const AuthConfig& config);
  /// From 32 raw bytes (tests).
  static SecretBox from_raw_key(std::string_view key);
  /// The key file at `path`, created when missing.
  static SecretBox load_or_create(const std::string& path);
  /// A key in base64url (32 bytes), as written in a key file; std::nullopt when malformed.
  static std::optional<SecretBox> from_text(std::string_view text);

  SecretBox(const SecretBox&) = default;
  ~SecretBox();

  /// 32 bytes derived from the key for `purpose` (BLAKE2b keyed with it): the same on every
  /// instance that shares the key, and not the key (e.g. the store's plugin role passwords).
  std::string derived(std::string_view purpose) const;
  /// Where the key comes from (the key file's path, or "auth.secret_key"), for messages.
  const std::string& origin() const { return origin_; }

  /// XChaCha20-Poly1305 with a random nonce; `context` (e.g. "sessions.refresh_token") is bound
  /// as associated data, so that a value cannot be moved to another use. base64url text.
  std::string seal(std::string_view plaintext, std::string_view context) const;
  /// The plaintext, or nothing when `sealed` was not made by seal() with this key and context.
  std::optional<std::string> open(std::string_view sealed, std::string_view context) const;

  /// For columns of the store: kStorePrefix + seal(); is_sealed() tells them from the plaintext
  /// rows of older versions.
  static constexpr std::string_view kStorePrefix = "enc1:";
  static bool is_sealed(std::string_view value) {
    return value.substr(0, kStorePrefix.size()) == kStorePrefix;
  }
  std::string seal_for_store(std::string_view plaintext, std::string_view context) const;
  std::optional<std::string> open_from_store(std::string_view value,
                                             std::string_view context) const;

 private:
  SecretBox() = default;
  unsigned char key_[32] = {};
  std::string origin_ = "a test key";
};

}  // namespace passerelle
