// The PostgreSQL store, for several gateway instances sharing one database. libpq's
// asynchronous API on the store's own thread: each connection's socket is a descriptor of that
// thread's io_context, so a few connections serve many statements at once and no thread ever
// blocks on the network. Callers resume on their own executor.
#pragma once

#include "store/store.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace passerelle {

struct PgOptions {
  std::string url;           ///< libpq connection string or postgresql:// URL (sslmode honoured).
  unsigned connections = 4;  ///< At most this many open at once.
  /// Connecting, and waiting for a free connection, give up after this.
  std::chrono::milliseconds connect_timeout{5000};
  /// A statement still running after this is cancelled (an error).
  std::chrono::milliseconds statement_timeout{30000};
  /// The passwords of the plugins' roles derive from it (the gateway's secret key): the same
  /// on every instance. Needed for for_plugin().
  std::string role_secret;
};

class PgStore final : public Store {
 public:
  /// Connects lazily: a database down at start fails the first statement, not the constructor.
  explicit PgStore(PgOptions options);
  ~PgStore() override;

  /// A statement that failed because the server went away is sent again on a new connection
  /// only when that is safe: it had not been sent, or it is a single SELECT.
  Task<QueryResult> query(Statement statement) override;
  /// BEGIN, the statements, COMMIT on one connection; ROLLBACK on an error. Never sent again
  /// once BEGIN went out: a COMMIT whose answer was lost may have been applied.
  Task<std::vector<QueryResult>> transaction(std::vector<Statement> statements) override;
  std::string dialect() const override { return "postgresql"; }

  /// Applies the migrations of `owner` not yet applied, each in its own transaction, in order,
  /// under an advisory lock: instances starting together apply each migration once.
  Task<int> migrate(std::string owner, std::vector<Migration> migrations) override;

  /// The plugin's handle: its statements run on connections of its own, as a PostgreSQL role
  /// of its own (created by the gateway's role, which needs CREATEROLE) that owns its tables,
  /// in a schema of the same name (its search_path), and reaches no other; a migration that
  /// creates anything not named `<prefix>…` is undone.
  std::unique_ptr<PluginStore> for_plugin(const std::string& name) override;

  /// Stops listening and checking, lets the statements under way end, and ends the store's
  /// thread: after it, nothing more reaches the callers' executors (the server calls it before
  /// its I/O threads go). The store takes no statement after.
  void join() override;

  /// NOTIFY through the gateway's pool (a failure is logged: the TTL of the caches still
  /// bounds what another instance serves).
  void notify(const std::string& channel, const std::string& payload) override;
  Task<void> notifications_sent() override;
  /// LISTEN on a connection of its own, opened again with back-off when lost.
  void listen(const std::string& channel, std::function<void(const std::string&)> on_message,
              std::function<void()> on_resumed) override;

  /// Connections open now (for tests).
  unsigned open_connections() const;

  /// False from a failed connection or a lost one until a statement succeeds again; checked
  /// with `SELECT 1` every 2 s when nothing else ran.
  bool available() const override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::thread thread_;  // runs impl_'s io_context
};

}  // namespace passerelle
