// One-time values seen recently (sign-in states, logout token ids), each kept until it expires,
// so that a replayed one is refused. Bounded: when full, the value closest to expiry goes first.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace passerelle {

class ReplaySet {
 public:
  explicit ReplaySet(std::size_t capacity) : capacity_(capacity) {}

  /// True the first time `key` is offered; false while it is remembered (a replay). `expires_at`
  /// and `now` in seconds since the epoch: after expires_at, the caller refuses the value on its
  /// own, so it need not be remembered.
  bool first_use(const std::string& key, std::int64_t expires_at, std::int64_t now) {
    // Callback and back-channel logout only, a few per login: a lock is cheap there.
    std::lock_guard lock(mutex_);
    // Asked first: making room below would forget the oldest value, which may be this one.
    if (auto it = seen_.find(key); it != seen_.end() && it->second >= now) return false;
    while (!by_expiry_.empty() &&
           (by_expiry_.begin()->first < now || by_expiry_.size() >= capacity_)) {
      seen_.erase(by_expiry_.begin()->second);
      by_expiry_.erase(by_expiry_.begin());
    }
    if (!seen_.emplace(key, expires_at).second) return false;
    by_expiry_.emplace(expires_at, key);
    return true;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return seen_.size();
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> seen_;
  std::set<std::pair<std::int64_t, std::string>> by_expiry_;
};

}  // namespace passerelle
