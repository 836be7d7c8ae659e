// Wall-clock seconds since the epoch, as tokens and sessions count time.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace passerelle {

inline std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Now (or `seconds` since the epoch) in UTC as the store's text columns hold it:
/// "2026-11-30T07:15:00Z" (computed here, not in SQL: portable SQL has no strftime and no now()).
inline std::string utc_timestamp(std::int64_t seconds = unix_seconds()) {
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[24];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

}  // namespace passerelle
