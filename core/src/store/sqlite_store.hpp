// The embedded SQLite store: a few connections, each used by one thread of the store's pool,
// so that database work never runs on an I/O thread. The core reaches every table; a plugin
// gets a PluginDatabase that reaches only its own (see store/table_guard.hpp).
#pragma once

#include "store/statement_cache.hpp"
#include "store/store.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace passerelle {

class PluginDatabase;

/// How much memory each connection may use to keep the database's pages at hand.
struct SqliteMemory {
  unsigned cache_mib = 16;  // page cache per connection (PRAGMA cache_size)
  unsigned mmap_mib = 256;  // the file mapped, read without a copy (PRAGMA mmap_size); 0: off
};

class SqliteStore final : public Store {
 public:
  /// Opens (creating folder and file when missing) `path` with `threads` connections. A
  /// plugin's statement that runs longer than `plugin_statement_limit` is stopped (an error).
  /// Each connection keeps up to `cached_statements` prepared statements (0: none).
  SqliteStore(const std::string& path, unsigned threads,
              std::chrono::milliseconds plugin_statement_limit = std::chrono::seconds(30),
              std::size_t cached_statements = kDefaultCachedStatements, SqliteMemory memory = {});
  ~SqliteStore() override;

  /// Prepared statements kept per connection unless configured otherwise (store.statements).
  static constexpr std::size_t kDefaultCachedStatements = 64;

  Task<QueryResult> query(Statement statement) override;
  Task<std::vector<QueryResult>> transaction(std::vector<Statement> statements) override;
  std::string dialect() const override { return "sqlite"; }

  Task<int> migrate(std::string owner, std::vector<Migration> migrations) override;
  std::unique_ptr<PluginStore> for_plugin(const std::string& name) override;

  /// The statement caches of every connection, added up (for tests and figures).
  StatementCacheStats statement_cache_stats() const;

  void join() override;

  struct Impl;

 private:
  friend class PluginDatabase;
  std::unique_ptr<Impl> impl_;
};

/// One plugin's handle on the store: every statement, its migrations' included, is confined to
/// the plugin's tables; anything else fails with std::runtime_error naming the table.
class PluginDatabase final : public PluginStore {
 public:
  Task<QueryResult> query(Statement statement) override;
  Task<std::vector<QueryResult>> transaction(std::vector<Statement> statements) override;
  std::string dialect() const override { return "sqlite"; }

  Task<int> migrate(std::vector<Migration> migrations) override;

  const std::string& plugin() const { return plugin_; }

 private:
  friend class SqliteStore;
  PluginDatabase(SqliteStore::Impl& store, std::string plugin)
      : store_(store), plugin_(std::move(plugin)) {}

  SqliteStore::Impl& store_;
  std::string plugin_;
};

}  // namespace passerelle
