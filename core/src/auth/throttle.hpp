// Brute-force throttling of logins: failures counted per account and per client address in a
// sliding window; past the limit, logins are refused with the time to wait.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace passerelle {

struct ThrottlePolicy {
  int max_failures_per_account = 5;
  int max_failures_per_address = 20;
  std::chrono::seconds window{15 * 60};
};

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(ThrottlePolicy policy) : policy_(policy) {}

  /// Check and count in one step: an allowed attempt counts as a failure at once, so that
  /// parallel attempts cannot all pass the check before the first one fails. Returns the wait
  /// when refused.
  std::optional<std::chrono::seconds> begin_attempt(const std::string& account, const std::string& address,
                                                    Clock::time_point now);
  /// The attempt begun at `began` succeeded: the account's failures are forgotten, and this
  /// attempt no longer counts against the address.
  void attempt_succeeded(const std::string& account, const std::string& address, Clock::time_point began);


 private:
  std::optional<std::chrono::seconds> check(const std::string& key, int limit, Clock::time_point now);
  void prune(std::deque<Clock::time_point>& q, Clock::time_point now) const;
  void sweep(Clock::time_point now);  // drops keys whose failures all left the window

  ThrottlePolicy policy_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
  std::size_t since_sweep_ = 0;
};

}  // namespace passerelle
