#include "auth/relay.hpp"

#include "auth/crypto.hpp"

#include <charconv>
#include <chrono>

namespace passerelle::auth {

namespace {
// At most this many stamps remembered (a burst beyond it forgets the oldest, which are then
// only two minutes from being refused by their time anyway).
constexpr std::size_t kMaxSeen = 100'000;

std::string tag_of(const SecretBox& key, std::string_view domain, std::string_view stamped) {
  std::string purpose = "passerelle: relay ";
  purpose += domain;
  purpose += stamped;
  return to_hex(key.derived(purpose).substr(0, 16));
}

std::int64_t now_epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::string sign_relayed(const SecretBox& key, std::string_view domain, std::string_view message) {
  std::string stamped = std::to_string(now_epoch_ms()) + "-" + random_token(9);
  stamped += '.';
  stamped += message;
  return tag_of(key, domain, stamped) + "." + stamped;
}

bool RelaySeen::first_time(const std::string& stamp, std::int64_t ms, std::int64_t now_ms) {
  while (!by_time_.empty() &&
         (by_time_.front().first < now_ms - kRelayWindowMs || by_time_.size() >= kMaxSeen)) {
    seen_.erase(by_time_.front().second);
    by_time_.pop_front();
  }
  if (!seen_.insert(stamp).second) return false;
  by_time_.emplace_back(ms, stamp);
  return true;
}

std::optional<std::string> open_relayed(const SecretBox& key, std::string_view domain,
                                        std::string_view signed_text, RelaySeen& seen,
                                        std::int64_t now_ms) {
  const auto dot = signed_text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view stamped = signed_text.substr(dot + 1);
  if (!equal_constant_time(signed_text.substr(0, dot), tag_of(key, domain, stamped)))
    return std::nullopt;
  const auto stamp_end = stamped.find('.');
  const auto dash = stamped.find('-');
  if (stamp_end == std::string_view::npos || dash == std::string_view::npos || dash > stamp_end)
    return std::nullopt;
  std::int64_t ms = 0;
  if (std::from_chars(stamped.data(), stamped.data() + dash, ms).ptr != stamped.data() + dash)
    return std::nullopt;
  if (ms < now_ms - kRelayWindowMs || ms > now_ms + kRelayWindowMs) return std::nullopt;
  if (!seen.first_time(std::string(stamped.substr(0, stamp_end)), ms, now_ms)) return std::nullopt;
  return std::string(stamped.substr(stamp_end + 1));
}

}  // namespace passerelle::auth
