// What instances sharing a PostgreSQL store tell each other through NOTIFY (forgotten callers,
// plugins' changes, territories imported), signed with a key derived from the secret key: every
// instance and the admin commands have it; a plugin's database role, which may NOTIFY too, does
// not, so it cannot make the instances do anything.
#pragma once

#include "auth/secret_box.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace passerelle::auth {

/// Channels of the store's notifications.
inline constexpr const char* kCallersChannel = "passerelle_callers";
inline constexpr const char* kPluginsChannel = "passerelle_plugins";
inline constexpr const char* kTerritoriesChannel = "passerelle_territories";

/// `message` behind a 128-bit tag over `domain` and it: "TAG.MESSAGE". The domain keeps a
/// message signed for one purpose from being taken for another ("" callers, "plugin ",
/// "territories ").
std::string sign_relayed(const SecretBox& key, std::string_view domain, std::string_view message);

/// The message of `signed_text` when its tag is right for `domain`; nothing otherwise.
std::optional<std::string> open_relayed(const SecretBox& key, std::string_view domain,
                                        std::string_view signed_text);

}  // namespace passerelle::auth
