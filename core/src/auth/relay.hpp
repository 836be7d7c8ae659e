// What instances sharing a PostgreSQL store tell each other through NOTIFY (forgotten callers,
// plugins' changes, territories imported), signed with a key derived from the secret key: every
// instance and the admin commands have it; a plugin's database role, which may NOTIFY and
// LISTEN too, does not: it can neither forge a message nor play one it heard again (each
// carries its time and a nonce; a message older than two minutes, or seen already, is dropped).
#pragma once

#include "auth/secret_box.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace passerelle::auth {

/// Channels of the store's notifications.
inline constexpr const char* kCallersChannel = "passerelle_callers";
inline constexpr const char* kPluginsChannel = "passerelle_plugins";
inline constexpr const char* kTerritoriesChannel = "passerelle_territories";

/// How far a message's time may be from the receiver's clock (instances keep theirs by NTP).
inline constexpr std::int64_t kRelayWindowMs = 120'000;

/// `message` stamped (epoch milliseconds, a random nonce) and tagged (128 bits over `domain`,
/// the stamp and it): "TAG.STAMP.MESSAGE". The domain keeps a message signed for one purpose
/// from being taken for another ("" callers, "plugin ", "territories ").
std::string sign_relayed(const SecretBox& key, std::string_view domain, std::string_view message);

/// The messages already taken, by stamp, for as long as the window keeps them acceptable.
/// Not thread-safe: one thread (the store's) opens every message.
class RelaySeen {
 public:
  /// Whether `stamp` (of time `ms`) is new; remembers it.
  bool first_time(const std::string& stamp, std::int64_t ms, std::int64_t now_ms);

 private:
  std::unordered_set<std::string> seen_;
  std::deque<std::pair<std::int64_t, std::string>> by_time_;
};

/// The message of `signed_text` when its tag is right for `domain`, its time within the window
/// of `now_ms` and its stamp new to `seen`; nothing otherwise.
std::optional<std::string> open_relayed(const SecretBox& key, std::string_view domain,
                                        std::string_view signed_text, RelaySeen& seen,
                                        std::int64_t now_ms);

}  // namespace passerelle::auth
