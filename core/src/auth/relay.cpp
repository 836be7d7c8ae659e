#include "auth/relay.hpp"

#include "auth/crypto.hpp"

namespace passerelle::auth {

namespace {
std::string tag_of(const SecretBox& key, std::string_view domain, std::string_view message) {
  std::string purpose = "passerelle: relay ";
  purpose += domain;
  purpose += message;
  return to_hex(key.derived(purpose).substr(0, 16));
}
}  // namespace

std::string sign_relayed(const SecretBox& key, std::string_view domain, std::string_view message) {
  std::string out = tag_of(key, domain, message);
  out += '.';
  out += message;
  return out;
}

std::optional<std::string> open_relayed(const SecretBox& key, std::string_view domain,
                                        std::string_view signed_text) {
  const auto dot = signed_text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view message = signed_text.substr(dot + 1);
  if (!equal_constant_time(signed_text.substr(0, dot), tag_of(key, domain, message)))
    return std::nullopt;
  return std::string(message);
}

}  // namespace passerelle::auth
