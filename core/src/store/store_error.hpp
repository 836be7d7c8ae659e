// What a store call throws when the database cannot be reached, whatever the backend.
#pragma once

#include <stdexcept>

namespace passerelle {

/// The database cannot be reached (down, restarting, refused, timed out): the request that
/// needed it gets 503 store_unavailable with Retry-After, and the store reconnects by itself.
class StoreUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Seconds a client is told to wait (Retry-After) when the store is unavailable.
inline constexpr int kStoreRetryAfterSeconds = 5;

}  // namespace passerelle
