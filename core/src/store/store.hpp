// The gateway's store, whatever its backend: SQLite (store/sqlite_store.hpp), embedded, the
// default; PostgreSQL (store/pg_store.hpp), shared by several instances.
#pragma once

#include "passerelle/host.hpp"
#include "passerelle/plugin.hpp"
#include "store/store_error.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace passerelle {

/// One plugin's handle on the store: every statement, its migrations' included, reaches only
/// the plugin's own tables (see Database); anything else fails with std::runtime_error.
class PluginStore : public Database {
 public:
  /// Applies the plugin's migrations not yet applied (recorded as owner "plugin:<name>").
  virtual Task<int> migrate(std::vector<Migration> migrations) = 0;
};

/// The core's handle: every table.
class Store : public Database {
 public:
  /// Applies the migrations of `owner` not yet applied, each in its own transaction, in order.
  /// Returns how many were applied.
  virtual Task<int> migrate(std::string owner, std::vector<Migration> migrations) = 0;

  /// The store as plugin `name` sees it: only the tables named table_prefix(name)...
  /// std::invalid_argument when that prefix holds a core table (see core_table_reached()).
  virtual std::unique_ptr<PluginStore> for_plugin(const std::string& name) = 0;

  /// Waits for the statements under way (their callers' executors must still exist).
  virtual void join() = 0;

  /// Sends `payload` (short text) to the listeners of `channel` on every instance, this one's
  /// included; returns at once. Nothing with one instance (SQLite).
  virtual void notify(const std::string& channel, const std::string& payload) {}
  /// Waits (at most a second) until every notify() made before it reached the database, so
  /// that an answer saying a change is done follows the news of it to the other instances.
  virtual Task<void> notifications_sent() { co_return; }
  /// Calls `on_message` (on the store's thread) with each payload sent on `channel` by another
  /// connection than this store's own, and `on_resumed` when it had to listen again after
  /// losing the database: messages may have been lost meanwhile.
  virtual void listen(const std::string& channel,
                      std::function<void(const std::string&)> on_message,
                      std::function<void()> on_resumed) {}

  /// Whether the database answered lately (a remote one is checked every 2 s): /readyz.
  virtual bool available() const { return true; }
};

}  // namespace passerelle
