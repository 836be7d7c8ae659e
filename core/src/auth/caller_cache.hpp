// Callers resolved from a session cookie or an API token, kept in memory by the hash the store
// keys them on, so that a request from a known caller is authenticated on its I/O thread
// without a trip to the store pool (measured: two store round trips cost four fifths of a
// logged-in route's throughput).
#pragma once

#include "auth/auth_context.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace passerelle {

struct CallerCacheConfig {
  std::size_t max_entries = 10000;  // 0: no cache, every request asks the store
  // After this the store is asked again: bounds how long a change made by another process
  // (the admin CLI, another instance) goes unseen.
  std::chrono::milliseconds ttl{5000};
  std::chrono::seconds idle_timeout{0};      // sessions only; 0: none
  std::chrono::seconds absolute_timeout{0};  // sessions only; 0: none
};

/// What the store said of a caller, as a hit gives it back.
struct CachedCaller {
  AuthContext context;          // session_cookie left empty: the cache never holds a secret
  std::string username;         // the account's ("" when federated), to forget it by name
  std::int64_t token_id = 0;    // the API token's row, to forget it when revoked
  std::int64_t created_at = 0;  // when the session began, epoch seconds (absolute timeout)
};

class CallerCache {
 public:
  /// Wall-clock time since the epoch, as sessions count it; injected by tests.
  using Clock = std::function<std::chrono::milliseconds()>;

  explicit CallerCache(CallerCacheConfig config, Clock clock = {});

  struct Lookup {
    std::shared_ptr<const CachedCaller> caller;  // null: ask the store
    // On a miss, what memory knows of the idle clock (0: nothing): the store writes it back
    // at most once a minute, so memory may know a later use.
    std::int64_t last_seen = 0;
    // On a hit, non-zero when the store should now be told of this use (once a minute).
    std::int64_t write_last_seen = 0;
  };

  /// A live, recently checked caller (its idle clock restarted), or what a miss knows.
  Lookup find(const std::string& key);

  /// Read before asking the store about `key`; put() refuses what an invalidation may have
  /// overtaken meanwhile.
  std::uint64_t generation(const std::string& key) const;

  /// Keeps what the store just confirmed, used now; `stored_last_seen` is the idle clock as
  /// the store has it. Nothing is kept when anything was forgotten since `generation`.
  void put(const std::string& key, std::shared_ptr<const CachedCaller> caller,
           std::int64_t stored_last_seen, std::uint64_t generation);

  /// Invalidation: forgets `key` at once, and any answer about it the store gave before.
  void erase(const std::string& key);
  /// Forgets an entry the store no longer knows; an attacker's unknown keys cost nothing else.
  void drop(const std::string& key);
  /// Forgets every caller `match` selects (a user's sessions, a revoked token...).
  void erase_if(const std::function<bool(const CachedCaller&)>& match);

  std::size_t size() const;
  bool enabled() const { return !shards_.empty(); }
  /// Epoch seconds by the cache's clock.
  std::int64_t now_seconds() const;

 private:
  struct Slot {
    std::shared_ptr<const CachedCaller> caller;
    std::int64_t checked_ms = 0;  // when the store last confirmed it
    std::int64_t last_seen = 0;   // last use, epoch seconds
    std::int64_t written = 0;     // last use the store knows of
    std::list<std::string>::iterator order;
  };
  // One lock per shard: I/O threads rarely meet on one, and nothing slow runs under it.
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Slot> slots;
    std::list<std::string> order;              // most recently used first
    std::atomic<std::uint64_t> generation{0};  // invalidations so far
  };

  Shard& shard_of(const std::string& key) const;
  void remove(Shard& shard, const std::string& key);
  std::int64_t now_ms() const;

  CallerCacheConfig config_;
  Clock clock_;
  std::size_t per_shard_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
};

/// The caches of one gateway: sessions by cookie hash, API tokens by token hash.
struct CallerCaches {
  CallerCaches(CallerCacheConfig sessions_config, CallerCacheConfig tokens_config,
               CallerCache::Clock clock = {})
      : sessions(sessions_config, clock), tokens(tokens_config, clock) {}

  /// An account changed (disabled, password, roles): its callers are looked up again.
  void forget_user(std::int64_t user_id);
  void forget_username(const std::string& username);

  CallerCache sessions;
  CallerCache tokens;
};

}  // namespace passerelle
