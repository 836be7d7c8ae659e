// Sliding-window failure counters; entries are pruned as they are read, and empty ones dropped.
#include "auth/throttle.hpp"

#include <algorithm>

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

void LoginThrottle::sweep(Clock::time_point now) {
  // Keys are attacker-chosen (usernames): without this, the table would only ever grow.
  if (++since_sweep_ < 1024) return;
  since_sweep_ = 0;
  for (auto it = failures_.begin(); it != failures_.end();) {
    prune(it->second, now);
    it = it->second.empty() ? failures_.erase(it) : std::next(it);
  }
}

std::optional<std::chrono::seconds> LoginThrottle::begin_attempt(const std::string& account,
                                                                 const std::string& address,
                                                                 Clock::time_point now) {
  std::lock_guard lock(mutex_);
  sweep(now);
  auto a = check("a:" + account, policy_.max_failures_per_account, now);
  auto b = check("i:" + address, policy_.max_failures_per_address, now);
  if (a || b) return std::max(a.value_or(std::chrono::seconds(0)), b.value_or(std::chrono::seconds(0)));
  failures_["a:" + account].push_back(now);
  failures_["i:" + address].push_back(now);
  return std::nullopt;
}

void LoginThrottle::attempt_succeeded(const std::string& account, const std::string& address,
                                      Clock::time_point began) {
  std::lock_guard lock(mutex_);
  failures_.erase("a:" + account);
  if (auto it = failures_.find("i:" + address); it != failures_.end()) {
    auto& q = it->second;
    if (auto pos = std::find(q.rbegin(), q.rend(), began); pos != q.rend()) q.erase(std::next(pos).base());
    if (q.empty()) failures_.erase(it);
  }
}


}  // namespace passerelle
