// Sliding-window failure counters; entries are pruned as they are read, and empty ones dropped.
#include "auth/throttle.hpp"

namespace passerelle {

void LoginThrottle::prune(std::deque<Clock::time_point>& q, Clock::time_point now) const {
  while (!q.empty() && now - q.front() >= policy_.window) q.pop_front();
}

std::optional<std::chrono::seconds> LoginThrottle::check(const std::string& key, int limit, Clock::time_point now) {
  auto it = failures_.find(key);
  if (it == failures_.end()) return std::nullopt;
  prune(it->second, now);
  if (it->second.empty()) {
    failures_.erase(it);
    return std::nullopt;
  }
  if (static_cast<int>(it->second.size()) < limit) return std::nullopt;
  // Allowed again when the oldest failure that keeps the count at the limit leaves the window.
  const auto oldest = it->second[it->second.size() - limit];
  const auto wait = std::chrono::ceil<std::chrono::seconds>(policy_.window - (now - oldest));
  return std::max(wait, std::chrono::seconds(1));
}

std::optional<std::chrono::seconds> LoginThrottle::retry_after(const std::string& account,
                                                               const std::string& address,
                                                               Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto a = check("a:" + account, policy_.max_failures_per_account, now);
  auto b = check("i:" + address, policy_.max_failures_per_address, now);
  if (a && b) return std::max(*a, *b);
  return a ? a : b;
}

void LoginThrottle::record_failure(const std::string& account, const std::string& address, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  failures_["a:" + account].push_back(now);
  failures_["i:" + address].push_back(now);
}

void LoginThrottle::record_success(const std::string& account) {
  std::lock_guard lock(mutex_);
  failures_.erase("a:" + account);
}

}  // namespace passerelle
