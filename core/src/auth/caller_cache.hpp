// Callers resolved from a session cookie or an API token, kept in memory by the hash the store
// keys them on, so that a request from a known caller is authenticated on its I/O thread
// without a trip to the store pool (measured: two store round trips cost four fifths of a
// logged-in route's throughput).
#pragma once

#include "auth/auth_context.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace passerelle {

struct CallerCacheConfig {
  // At most this many callers in all, shared out evenly among the threads that use the cache;
  // 0: no cache, every request asks the store.
  std::size_t max_entries = 10000;
  // After this the store is asked again: bounds how long a change made by another process
  // (the admin CLI, another instance) goes unseen.
  std::chrono::milliseconds ttl{5000};
  std::chrono::seconds idle_timeout{0};      // sessions only; 0: none
  std::chrono::seconds absolute_timeout{0};  // sessions only; 0: none
};

/// What the store said of a caller, as a hit gives it back.
struct CachedCaller {
  // session_cookie and the provider's refresh token left empty: no credential is kept here
  AuthContext context;
  std::string username;         // the account's ("" when federated), to forget it by name
  std::int64_t token_id = 0;    // the API token's row, to forget it when revoked
  std::int64_t created_at = 0;  // when the session began, epoch seconds (absolute timeout)
};

/// Wall-clock time since the epoch, as sessions count it. The cache reads the system clock
/// unless given one of these (tests move time by hand).
class CallerClock {
 public:
  virtual ~CallerClock() = default;
  virtual std::chrono::milliseconds now() const = 0;
};

/// Each thread that uses the cache has its own LRU, reached through a thread_local table and
/// touched by that thread only: find() and put() take no lock. Invalidations (rare) are records
/// in a ring of atomics that every thread applies to its own LRU on its next find() or put(); a
/// thread too far behind to read them all forgets its whole LRU, which is always safe. The last
/// use of a session, which the idle timeout counts from whichever thread saw it, goes into a
/// table of atomics at most once a second per session and thread.
class CallerCache {
 public:
  /// `clock` (optional) must outlive the cache.
  explicit CallerCache(CallerCacheConfig config, const CallerClock* clock = nullptr);
  ~CallerCache();
  CallerCache(const CallerCache&) = delete;
  CallerCache& operator=(const CallerCache&) = delete;

  struct Lookup {
    std::shared_ptr<const CachedCaller> caller;  // null: ask the store
    // On a miss, what memory knows of the idle clock (0: nothing): the store writes it back
    // at most once a minute, so memory may know a later use.
    std::int64_t last_seen = 0;
    // On a hit, non-zero when the store should now be told of this use (once a minute).
    std::int64_t write_last_seen = 0;
  };

  /// A live, recently checked caller (its idle clock restarted), or what a miss knows. Sees
  /// every invalidation published before it began, on whatever thread.
  Lookup find(const std::string& key);

  /// Read before asking the store; put() refuses what an invalidation made since may have
  /// overtaken.
  std::uint64_t sequence() const { return published_.load(std::memory_order_acquire); }

  /// Keeps, for this thread, what the store just confirmed, used now; `stored_last_seen` is
  /// the idle clock as the store has it. Nothing is kept when an invalidation published since
  /// `since` (a sequence()) concerns this key or caller, or may have (too many to check).
  void put(const std::string& key, std::shared_ptr<const CachedCaller> caller,
           std::int64_t stored_last_seen, std::uint64_t since);

  /// Invalidations, seen by every thread's next find() and refusing every put() they overtake.
  /// Forgets `key`.
  void erase(const std::string& key);
  /// Forgets a user's callers.
  void forget_user(std::int64_t user_id);
  /// Forgets the callers of an account by name (nothing for "").
  void forget_username(const std::string& username);
  /// Forgets an API token's caller.
  void forget_token(std::int64_t token_id);
  /// Forgets the sessions of a federated login: those of `sid` at `provider` when `sid` is
  /// given (whatever their subject), else those of `sub`.
  void forget_federated(const std::string& provider, const std::string& sid,
                        const std::string& sub);

  /// Forgets every caller (invalidations of another instance may have been missed).
  void forget_all();

  /// Every invalidation published here is also handed to `relay` as a short text (to the
  /// other instances, through the store); set before serving.
  void set_relay(std::function<void(const std::string&)> relay) { relay_ = std::move(relay); }
  /// An invalidation another instance relayed (a text set_relay() handed over); one it cannot
  /// read forgets everything, which is always safe. Not relayed again.
  void apply_relayed(std::string_view message);

  /// Forgets, on this thread only, an entry the store no longer knows; an attacker's unknown
  /// keys cost nothing else. No invalidation: other threads keep theirs until their TTL.
  void drop(const std::string& key);

  /// Entries kept by all threads, as each last counted them.
  std::size_t size() const;
  bool enabled() const { return config_.max_entries > 0; }
  /// Epoch seconds by the cache's clock.
  std::int64_t now_seconds() const { return now_ms() / 1000; }

  /// Invalidation records kept; a thread more than this behind forgets its whole LRU.
  static constexpr std::size_t kRingSize = 1024;

 private:
  enum class Kind : std::uint64_t { key, user, username, token, federated_sid, federated_sub, all };

  struct Slot {
    std::string key;
    std::shared_ptr<const CachedCaller> caller;
    std::int64_t checked_ms = 0;  // when the store last confirmed it
    std::int64_t last_seen = 0;   // last use, epoch seconds
    std::int64_t written = 0;     // last use the store knows of
    std::uint64_t username_hash = 0;
    std::uint64_t sid_hash = 0;  // provider and OpenID session id, when federated
    std::uint64_t sub_hash = 0;  // provider and OpenID subject, when federated
    std::list<std::uint64_t>::iterator order;
  };
  // One thread's LRU, keyed by the key's hash (the slot holds the key: a collision is a miss).
  // Aligned so that two threads' LRUs, allocated one after the other, share no cache line: a
  // hit writes the list's head.
  struct alignas(64) Shard {
    std::unordered_map<std::uint64_t, Slot> slots;
    std::list<std::uint64_t> order;     // most recently used first
    std::uint64_t seen = 0;             // invalidations applied so far
    std::uint64_t owner = 0;            // the serial number of the thread that uses it
    std::atomic<std::size_t> count{0};  // slots.size(), for size() from another thread
  };
  // One invalidation, written by one writer at a time and read by any thread. `stamp` is its
  // sequence number once written, 0 while being written: a reader that finds anything else
  // has been lapped.
  struct Record {
    std::atomic<std::uint64_t> stamp{0};
    std::atomic<std::uint64_t> kind{0};
    std::atomic<std::uint64_t> value{0};
  };
  struct Invalidation {
    Kind kind;
    std::uint64_t value;
  };

  Shard& local_shard();
  Shard& register_thread();
  void publish(Kind kind, std::uint64_t value, bool relay = true);
  std::function<void(const std::string&)> relay_;
  // Reads record `n`; false when it was overwritten meanwhile.
  bool read(std::uint64_t n, Invalidation& out) const;
  // Applies the invalidations published since this thread last looked.
  void catch_up(Shard& shard);
  static bool matches(const Invalidation& i, std::uint64_t key_hash, const Slot& slot);
  void remove(Shard& shard, std::unordered_map<std::uint64_t, Slot>::iterator it);
  void clear(Shard& shard);
  std::size_t per_thread() const;
  std::int64_t now_ms() const;
  // The last use of a session seen by any thread (epoch seconds, 0: unknown or pushed out by
  // another session of the same cell), and noting one.
  std::int64_t last_use(std::uint64_t key_hash) const;
  void note_use(std::uint64_t key_hash, std::int64_t seconds);

  CallerCacheConfig config_;
  const CallerClock* clock_;
  const std::uint64_t id_;  // never reused: a thread's table cannot mistake a dead cache

  std::atomic<std::uint64_t> published_{0};  // last complete record
  std::mutex writers_;                       // invalidations only, never find() nor put()
  std::array<Record, kRingSize> ring_;

  // Sessions only: the key hash's high half tagging a 32-bit time, in the cell its low half
  // picks. A lost cell only costs the precision the store has (a minute).
  std::unique_ptr<std::atomic<std::uint64_t>[]> uses_;
  std::uint64_t uses_mask_ = 0;

  mutable std::mutex threads_;  // a thread's first use of this cache, and size()
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::size_t> shard_count_{0};
};

/// The caches of one gateway: sessions by cookie hash, API tokens by token hash.
struct CallerCaches {
  CallerCaches(CallerCacheConfig sessions_config, CallerCacheConfig tokens_config,
               const CallerClock* clock = nullptr)
      : sessions(sessions_config, clock), tokens(tokens_config, clock) {}

  /// An account changed (disabled, password, roles): its callers are looked up again.
  void forget_user(std::int64_t user_id);
  void forget_username(const std::string& username);

  /// The invalidations of both caches go to `send` too, and those of other instances come
  /// back through apply_relayed(); "*" (messages may have been lost) forgets everything.
  void relay_through(std::function<void(const std::string&)> send);
  void apply_relayed(std::string_view message);

  CallerCache sessions;
  CallerCache tokens;
};

}  // namespace passerelle
