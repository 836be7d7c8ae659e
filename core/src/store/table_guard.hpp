// Keeps a plugin's SQL inside its own tables: SQLite's authorizer asks this guard about every
// table, index, pragma and attach a statement names, when the statement is prepared.
#pragma once

#include <cstdint>
#include <set>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace passerelle {

/// The prefix of every table a plugin owns: its name with '-' written '_', then '_'
/// ("hello" -> "hello_", "my-plugin" -> "my_plugin_"). The bare name is not the plugin's.
std::string table_prefix(const std::string& plugin);

/// One per connection. Statements run either for the core (every table) or confined to one
/// plugin; the confinement holds for the whole statement, re-preparations and the statements a
/// virtual table (FTS5) prepares while it runs included.
class TableGuard {
 public:
  TableGuard() = default;
  TableGuard(const TableGuard&) = delete;
  TableGuard& operator=(const TableGuard&) = delete;
  ~TableGuard() { release(); }

  /// Installs the authorizer on `db`, which must not outlive this guard.
  void install(sqlite3* db);

  /// Finalizes the guard's own statement: call before closing the connection.
  void release();

  /// Confines the next statements to `plugin`'s tables; an empty name gives the core back.
  void confine(const std::string& plugin);
  bool confined() const { return !plugin_.empty(); }
  /// The plugin the statements are confined to; empty for the core.
  const std::string& plugin() const { return plugin_; }

  /// Call before preparing a statement: forgets what the previous one did, and learns the
  /// schema's table names again if it changed.
  void begin_statement(sqlite3* db);

  /// Why the guard refused the current statement; empty when it did not.
  const std::string& refusal() const { return refusal_; }

 private:
  static int authorize(void* self, int action, const char* a1, const char* a2, const char* db,
                       const char* inner);
  // Empty when allowed, else why not.
  std::string decide(int action, const char* a1, const char* a2);
  bool owns(const char* name) const;
  std::string refuse_table(const char* verb, const char* name) const;

  std::string plugin_;
  std::string prefix_;
  // The names of the tables and views (lower case), as of schema version `schema_version_`:
  // SQLite reports `count(*) FROM x` as reading x whether x is a table or a CTE, and only a
  // table must be refused.
  std::set<std::string, std::less<>> tables_;
  std::int64_t schema_version_ = -1;
  sqlite3_stmt* schema_version_query_ = nullptr;  // PRAGMA schema_version, kept prepared
  bool refreshing_ = false;
  int last_ddl_ = 0;  // the schema change this statement makes, if any (SQLITE_CREATE_TABLE...)
  std::string refusal_;
};

}  // namespace passerelle
