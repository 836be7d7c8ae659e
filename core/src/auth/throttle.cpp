// Sliding-window failure counters keyed by client network; entries are pruned as they are
// read, and empty ones dropped.
#include "auth/throttle.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace passerelle {

namespace {

// Keys of the two counters. '\n' cannot appear in a network nor in a username.
std::string account_key(const std::string& network, const std::string& account) {
  return "a:" + network + "\n" + account;
}
std::string network_key(const std::string& network) { return "n:" + network; }

}  // namespace

std::string client_network(const std::string& address, int ipv4_prefix) {
  unsigned char v4[4];
  unsigned char v6[16];
  char text[INET6_ADDRSTRLEN];
  const bool is_v4 = inet_pton(AF_INET, address.c_str(), v4) == 1;
  if (!is_v4 && inet_pton(AF_INET6, address.c_str(), v6) != 1) return address;
  if (!is_v4) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6, kMapped, sizeof kMapped) != 0) {
      std::memset(v6 + 8, 0, 8);
      inet_ntop(AF_INET6, v6, text, sizeof text);
      return std::string(text) + "/64";
    }
    std::memcpy(v4, v6 + 12, 4);  // ::ffff:a.b.c.d is the IPv4 client a.b.c.d
  }
  if (ipv4_prefix == 24) v4[3] = 0;
  inet_ntop(AF_INET, v4, text, sizeof text);
  return std::string(text) + (ipv4_prefix == 24 ? "/24" : "/32");
}

void LoginThrottle::prune(std::deque<Clock::time_point>& q, Clock::time_point now) const {
  while (!q.empty() && now - q.front() >= policy_.window) q.pop_front();
}

std::optional<std::chrono::seconds> LoginThrottle::check(const std::string& key, int limit,
                                                         Clock::time_point now) {
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
  // Keys are attacker-chosen (usernames, networks): without this, the table would only grow.
  if (++since_sweep_ < 1024) return;
  since_sweep_ = 0;
  for (auto it = failures_.begin(); it != failures_.end();) {
    prune(it->second, now);
    it = it->second.empty() ? failures_.erase(it) : std::next(it);
  }
}

void LoginThrottle::forget_one(const std::string& key, Clock::time_point began) {
  auto it = failures_.find(key);
  if (it == failures_.end()) return;
  auto& q = it->second;
  if (auto pos = std::find(q.rbegin(), q.rend(), began); pos != q.rend())
    q.erase(std::next(pos).base());
  if (q.empty()) failures_.erase(it);
}

std::optional<std::chrono::seconds> LoginThrottle::begin_attempt(const std::string& account,
                                                                 const std::string& address,
                                                                 Clock::time_point now) {
  const std::string network = client_network(address, policy_.ipv4_prefix);
  const std::string by_account = account_key(network, account);
  const std::string by_network = network_key(network);
  std::lock_guard lock(mutex_);
  sweep(now);
  auto a = check(by_account, policy_.max_failures_per_account, now);
  auto b = check(by_network, policy_.max_failures_per_address, now);
  if (a || b)
    return std::max(a.value_or(std::chrono::seconds(0)), b.value_or(std::chrono::seconds(0)));
  failures_[by_account].push_back(now);
  failures_[by_network].push_back(now);
  return std::nullopt;
}

void LoginThrottle::attempt_succeeded(const std::string& account, const std::string& address,
                                      Clock::time_point began) {
  const std::string network = client_network(address, policy_.ipv4_prefix);
  std::lock_guard lock(mutex_);
  failures_.erase(account_key(network, account));
  forget_one(network_key(network), began);
}

void LoginThrottle::attempt_abandoned(const std::string& account, const std::string& address,
                                      Clock::time_point began) {
  const std::string network = client_network(address, policy_.ipv4_prefix);
  std::lock_guard lock(mutex_);
  forget_one(account_key(network, account), began);
  forget_one(network_key(network), began);
}

}  // namespace passerelle
