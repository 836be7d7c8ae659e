// Prepared statements kept per connection, keyed by whom they were prepared for and their SQL
// text: parsing and planning were a measured share of every store call (sqlite3Parser and
// sqlite3GetToken in the profile of a logged-in route).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3_stmt;

namespace passerelle {

/// What a cache (or all the caches of a store) did so far.
struct StatementCacheStats {
  std::uint64_t prepares = 0;   // statements compiled because none was cached
  std::uint64_t hits = 0;       // statements served from the cache
  std::uint64_t evictions = 0;  // least recently used statements finalized to make room
  std::size_t size = 0;         // statements held now
};

/// The statements of one connection, least recently used dropped beyond `capacity`.
///
/// The owner is part of the key because SQLite asks the authorizer about a statement when it
/// prepares it (and when it prepares it again after a schema change), never when it runs it:
/// a statement prepared for the core, unconfined, must never run for a plugin, nor one of
/// plugin A's for plugin B. A cached statement is only ever run while the connection's guard is
/// confined to its owner, so that a re-preparation is checked against the right rules too.
///
/// One statement is lent at a time (a connection runs one statement at a time); a statement
/// asked for while another is lent is prepared apart and finalized after use.
class StatementCache {
 public:
  /// A statement lent by the cache, or prepared apart (see keep()). Its destructor resets it
  /// and clears its bindings (it goes back to the cache) or finalizes it.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    sqlite3_stmt* get() const { return stmt_; }
    explicit operator bool() const { return stmt_ != nullptr; }

    /// Hands a statement prepared apart to the cache under (owner, sql), for the next callers.
    /// Does nothing when the cache is off or already lends a statement.
    void keep(std::string_view owner, std::string_view sql);

   private:
    friend class StatementCache;
    Lease(StatementCache* cache, sqlite3_stmt* stmt, bool cached)
        : cache_(cache), stmt_(stmt), cached_(cached) {}
    void release() noexcept;

    StatementCache* cache_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    bool cached_ = false;  // lent by the cache (else finalized on release)
  };

  /// `capacity` 0: nothing is kept, every statement is finalized after use.
  explicit StatementCache(std::size_t capacity) : capacity_(capacity) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;
  ~StatementCache() { clear(); }

  /// The statement cached for `sql` prepared for `owner` ("" for the core), or an empty lease.
  Lease find(std::string_view owner, std::string_view sql);

  /// Takes a freshly prepared statement (null allowed); counts a preparation.
  Lease adopt(sqlite3_stmt* stmt);

  /// Finalizes every cached statement (before the connection is closed). No lease may be out.
  void clear();

  StatementCacheStats stats() const;

 private:
  struct Entry {
    std::string owner;
    std::string sql;
    sqlite3_stmt* stmt;
  };
  struct Key {
    std::string_view owner;
    std::string_view sql;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      const std::size_t h = std::hash<std::string_view>()(k.sql);
      return h ^
             (std::hash<std::string_view>()(k.owner) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    }
  };

  // False when (owner, sql) is cached already.
  bool insert(std::string_view owner, std::string_view sql, sqlite3_stmt* stmt);

  std::size_t capacity_;
  std::list<Entry> entries_;  // most recently used first; keys of index_ point into them
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  bool lent_ = false;
  // Read by tests and stats while the store's threads may be running.
  std::atomic<std::uint64_t> prepares_{0}, hits_{0}, evictions_{0};
  std::atomic<std::size_t> size_{0};
};

}  // namespace passerelle
