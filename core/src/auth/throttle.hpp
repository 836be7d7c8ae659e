// Brute-force throttling of logins. Failures are counted per (account, client network) and per
// client network in a sliding window, never per account alone: an attacker elsewhere cannot
// lock a chosen user out, since the right password from a network that has not failed still
// works. A network is an IPv4 /32 or /24 (config) or an IPv6 /64.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace passerelle {

struct ThrottlePolicy {
  int max_failures_per_account = 5;   // one account, from one network
  int max_failures_per_address = 20;  // one network, all accounts together
  std::chrono::seconds window{15 * 60};
  int ipv4_prefix = 32;  // 32 or 24; IPv6 is always counted by /64
};

/// The network `address` belongs to, as a key: "192.0.2.7/32", "192.0.2.0/24",
/// "2001:db8:1:2::/64". IPv4-mapped IPv6 addresses count as IPv4. Anything unparsable is its
/// own network.
std::string client_network(const std::string& address, int ipv4_prefix);

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LoginThrottle(ThrottlePolicy policy) : policy_(policy) {}

  /// Check and count in one step: an allowed attempt counts as a failure at once, so that
  /// parallel attempts cannot all pass the check before the first one fails. Returns the wait
  /// when refused. `address` is the client's IP address.
  std::optional<std::chrono::seconds> begin_attempt(const std::string& account,
                                                    const std::string& address,
                                                    Clock::time_point now);
  /// The attempt begun at `began` succeeded: the failures of the account from that network are
  /// forgotten, and this attempt no longer counts against the network.
  void attempt_succeeded(const std::string& account, const std::string& address,
                         Clock::time_point began);
  /// The attempt begun at `began` was not decided (e.g. refused as overloaded): it no longer
  /// counts at all.
  void attempt_abandoned(const std::string& account, const std::string& address,
                         Clock::time_point began);

  const ThrottlePolicy& policy() const { return policy_; }

 private:
  std::optional<std::chrono::seconds> check(const std::string& key, int limit,
                                            Clock::time_point now);
  void forget_one(const std::string& key, Clock::time_point began);
  void prune(std::deque<Clock::time_point>& q, Clock::time_point now) const;
  void sweep(Clock::time_point now);  // drops keys whose failures all left the window

  ThrottlePolicy policy_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
  std::size_t since_sweep_ = 0;
};

}  // namespace passerelle
