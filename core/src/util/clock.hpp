// Wall-clock seconds since the epoch, as tokens and sessions count time.
#pragma once

#include <chrono>
#include <cstdint>

namespace passerelle {

inline std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace passerelle
