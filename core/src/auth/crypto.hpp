// Small cryptographic helpers over libsodium and OpenSSL: random tokens, hashes, comparison.
#pragma once

#include <string>
#include <string_view>

namespace passerelle::auth {

/// `bytes` random bytes from the OS CSPRNG, base64url without padding.
std::string random_token(std::size_t bytes = 32);

/// `bytes` in lower-case hex.
std::string to_hex(std::string_view bytes);

/// SHA-256 of `data`, lower-case hex.
std::string sha256_hex(std::string_view data);

/// SHA-256 of `data`, base64url without padding (PKCE S256).
std::string sha256_base64url(std::string_view data);

/// base64url without padding.
std::string base64url(std::string_view data);

/// base64 (RFC 4648 section 4: + and /, padded), as MIME wants it.
std::string base64(std::string_view data);

/// Constant-time equality.
bool equal_constant_time(std::string_view a, std::string_view b);

/// Argon2id hash in libsodium's string format (interactive limits). Slow: never on I/O threads.
std::string hash_password(std::string_view password);

/// Checks a password against a hash from hash_password(). Slow: never on I/O threads.
bool verify_password(const std::string& hash, std::string_view password);

}  // namespace passerelle::auth
