// The embedded SQLite store: a few connections, each used by one thread of the store's pool,
// so that database work never runs on an I/O thread.
#pragma once

#include "passerelle/host.hpp"
#include "passerelle/plugin.hpp"

#include <memory>
#include <string>
#include <vector>

struct sqlite3;

namespace passerelle {

class SqliteStore final : public Database {
 public:
  /// Opens (creating folder and file when missing) `path` with `threads` connections.
  SqliteStore(const std::string& path, unsigned threads);
  ~SqliteStore() override;

  Task<QueryResult> query(Statement statement) override;
  Task<std::vector<QueryResult>> transaction(std::vector<Statement> statements) override;

  /// Applies the migrations of `owner` not yet applied, each in its own transaction, in order.
  /// Returns how many were applied.
  Task<int> migrate(std::string owner, std::vector<Migration> migrations);

  /// Waits for the statements under way (their callers' executors must still exist).
  void join();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace passerelle
