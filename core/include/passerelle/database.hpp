// The plugin's access to the store: its own tables only, in portable SQL.
#pragma once

#include "passerelle/export.hpp"
#include "passerelle/task.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace passerelle {

/// One SQL value: NULL, integer, real or text.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

/// One SQL statement with positional parameters bound to `?1`, `?2`, ... (see Database).
struct Statement {
  std::string sql;               ///< The statement text.
  std::vector<SqlValue> params;  ///< Values bound in order.
};

/// What a statement returned.
struct QueryResult {
  std::vector<std::string> columns;         ///< Column names of the result set.
  std::vector<std::vector<SqlValue>> rows;  ///< Rows, each with one value per column.
  std::int64_t changes = 0;                 ///< Rows changed by an INSERT/UPDATE/DELETE.
  std::int64_t last_insert_id = 0;          ///< Rowid of the last INSERT.
};

/// The plugin's access to the gateway's store. Every call runs on the store's own thread pool,
/// never on the I/O threads, and resumes the caller when done. Errors throw std::runtime_error
/// (a handler that lets it through answers 500; the message goes to the log only).
///
/// **Own tables only.** A plugin reaches only the tables (and indexes, triggers, views, virtual
/// tables) named `<name>_…`, where `<name>` is its PluginInfo::name with `-` written `_`
/// ("hello" → `hello_items`; the bare name `hello` is not its own). Any other table — the
/// core's accounts, sessions, tokens, keys, territories, or another plugin's — is refused when
/// the statement is prepared, with an error naming the table. So are ATTACH/DETACH, PRAGMAs
/// (except reading the shape of its own tables), ANALYZE, temporary objects, renaming a table
/// (create, copy, drop instead), virtual tables other than full-text search (FTS3/4/5) and
/// R-trees, and BEGIN/COMMIT/SAVEPOINT written in SQL: use transaction(). Migrations are held
/// to the same rules.
///
/// **Portable SQL.** The store is SQLite today and PostgreSQL for several instances; the same
/// plugin must run on both, so write:
/// - placeholders `?1`, `?2` … `?n` (numbered; `?`, `:name`, `$1` are refused);
/// - upserts as `INSERT … ON CONFLICT (key) DO UPDATE SET … = excluded.…` or `DO NOTHING`,
///   never `INSERT OR REPLACE` / `REPLACE INTO`; new rows' ids with `RETURNING id`, not
///   `last_insert_rowid()`;
/// - times as integer epoch seconds computed in C++ and bound as parameters: no `strftime`,
///   `datetime('now')`, `CURRENT_TIMESTAMP` or `now()` in SQL, no time defaults in tables;
/// - types `TEXT`, `INTEGER`/`BIGINT`, `REAL`/`DOUBLE PRECISION`; identifiers in lower case;
/// - where a dialect must differ (auto-generated ids, full-text search), one SQL text per
///   dialect in the Migration, and `dialect()` in code.
class PASSERELLE_SDK_API Database {
 public:
  virtual ~Database() = default;
  /// Runs one statement (one only: a second one in the text is refused).
  virtual Task<QueryResult> query(Statement statement) = 0;
  /// Runs statements in one transaction: all or nothing.
  virtual Task<std::vector<QueryResult>> transaction(std::vector<Statement> statements) = 0;
  /// The SQL dialect behind this handle: "sqlite" (the embedded store) or "postgresql".
  virtual std::string dialect() const = 0;
};

}  // namespace passerelle
