// The rules of TableGuard. SQLite reports its own bookkeeping through the same authorizer (the
// schema table written by CREATE TABLE, sqlite_sequence cleaned by DROP TABLE, the shadow tables
// of FTS5), so those are allowed exactly where the statement itself is a schema change of the
// plugin's own objects; everything else outside the plugin's prefix is refused. (So a statement
// like CREATE TABLE x_copy AS SELECT sql FROM sqlite_schema may copy the schema's text: no row
// of any table, and the schema is in the sources anyway.)
//
// What this guards is the SQL a plugin sends, mistakes and injections included. A plugin is
// native code in the gateway's process: a deliberately hostile one is kept out by review and
// by who may install plugins, not by the store.
#include "store/table_guard.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>
#include <string_view>

namespace passerelle {

namespace {

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && iequals_prefix(a, b);
}

// The catalog: written by SQLite itself for every CREATE/DROP/ALTER. A statement cannot write
// it directly (SQLite refuses, and defensive mode keeps writable_schema off).
bool is_schema_table(const char* name) {
  return name && (iequals(name, "sqlite_master") || iequals(name, "sqlite_schema") ||
                  iequals(name, "sqlite_temp_master") || iequals(name, "sqlite_temp_schema"));
}

bool has_upper_case(const char* name) {
  return std::any_of(name, name + std::strlen(name),
                     [](char c) { return std::isupper(static_cast<unsigned char>(c)); });
}

std::string text(const char* s) { return s ? s : ""; }

// Virtual table modules a plugin may use: each reads only its own shadow tables (through
// statements the authorizer sees).
const std::set<std::string, std::less<>> kModules = {
    "fts5", "fts5vocab", "fts4", "fts3", "fts4aux", "fts3tokenize", "rtree", "rtree_i32"};

}  // namespace

std::string table_prefix(const std::string& plugin) {
  std::string prefix = plugin;
  std::replace(prefix.begin(), prefix.end(), '-', '_');
  return prefix + "_";
}

void TableGuard::install(sqlite3* db) { sqlite3_set_authorizer(db, &TableGuard::authorize, this); }

void TableGuard::confine(const std::string& plugin) {
  plugin_ = plugin;
  prefix_ = plugin.empty() ? "" : table_prefix(plugin);
  last_ddl_ = 0;
  refusal_.clear();
}

void TableGuard::release() {
  sqlite3_finalize(schema_version_query_);
  schema_version_query_ = nullptr;
}

void TableGuard::begin_statement(sqlite3* db) {
  last_ddl_ = 0;
  refusal_.clear();
  if (!confined()) return;
  // Statements of the guard itself run unchecked. Asked before each statement, cached or not,
  // since the schema may change between two statements of a migration, and a cached statement
  // is prepared again (so checked again) against the tables known here. 2.7 us measured for
  // this PRAGMA prepared each time (5.3 us for the smallest SELECT): now prepared once.
  refreshing_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{refreshing_};
  std::int64_t version = -1;
  if (!schema_version_query_ &&
      sqlite3_prepare_v3(db, "PRAGMA schema_version", -1, SQLITE_PREPARE_PERSISTENT,
                         &schema_version_query_, nullptr) != SQLITE_OK) {
    release();
    return;  // the statement to be prepared will meet the same problem and report it
  }
  if (sqlite3_step(schema_version_query_) == SQLITE_ROW)
    version = sqlite3_column_int64(schema_version_query_, 0);
  sqlite3_reset(schema_version_query_);
  if (version == schema_version_) return;
  tables_.clear();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT lower(name) FROM sqlite_schema WHERE type IN ('table', 'view')",
                         -1, &stmt, nullptr) == SQLITE_OK)
    while (sqlite3_step(stmt) == SQLITE_ROW)
      tables_.emplace(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  sqlite3_finalize(stmt);
  schema_version_ = version;
}

int TableGuard::authorize(void* self, int action, const char* a1, const char* a2, const char*,
                          const char*) {
  auto* guard = static_cast<TableGuard*>(self);
  if (!guard->confined() || guard->refreshing_) return SQLITE_OK;
  std::string why = guard->decide(action, a1, a2);
  if (why.empty()) return SQLITE_OK;
  // The first reason is the useful one: SQLite stops at the first refusal anyway.
  if (guard->refusal_.empty()) guard->refusal_ = std::move(why);
  return SQLITE_DENY;
}

bool TableGuard::owns(const char* name) const {
  if (!name) return false;
  std::string_view n(name);
  // Indexes SQLite makes for UNIQUE and PRIMARY KEY constraints are named after their table.
  constexpr std::string_view kAuto = "sqlite_autoindex_";
  if (n.substr(0, kAuto.size()) == kAuto) n.remove_prefix(kAuto.size());
  return n.size() > prefix_.size() && iequals_prefix(n, prefix_);
}

std::string TableGuard::refuse_table(const char* verb, const char* name) const {
  return "plugin \"" + plugin_ + "\" may not " + verb + " table " + text(name) +
         ": a plugin reaches only its own tables, named " + prefix_ + "*";
}

std::string TableGuard::decide(int action, const char* a1, const char* a2) {
  const std::string who = "plugin \"" + plugin_ + "\" may not ";
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return {};

    case SQLITE_FUNCTION:
      // fts3_tokenizer(name, pointer) registers code from a raw pointer; load_extension loads
      // a library (off by default, refused anyway).
      if (iequals(text(a2), "fts3_tokenizer") || iequals(text(a2), "load_extension"))
        return who + "call " + text(a2) + "()";
      return {};

    case SQLITE_READ:
      if (owns(a1)) return {};
      if (last_ddl_ && is_schema_table(a1)) return {};
      // A table-valued function's first use reads the catalog's row ids (ordinals, no content).
      if (is_schema_table(a1) && iequals(text(a2), "rowid")) return {};
      // DROP TABLE forgets the table's AUTOINCREMENT counter.
      if (last_ddl_ == SQLITE_DROP_TABLE && iequals(text(a1), "sqlite_sequence")) return {};
      // Table-valued functions that read only their argument.
      if (iequals(text(a1), "json_each") || iequals(text(a1), "json_tree")) return {};
      // No column: `count(*)` or `SELECT 1` over a table, or over a CTE, which is no table.
      if (a1 && a2 && !*a2) {
        std::string lower(a1);
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (!tables_.count(lower)) return {};
      }
      return refuse_table("read", a1);

    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE: {
      const char* verb = action == SQLITE_INSERT   ? "insert into"
                         : action == SQLITE_UPDATE ? "update"
                                                   : "delete from";
      if (owns(a1)) return {};
      if (is_schema_table(a1)) {
        // The new name of ALTER TABLE ... RENAME TO is never shown to the authorizer, so a
        // rename could leave the prefix: refused (create, copy, drop instead).
        const std::string column = text(a2);
        if (last_ddl_ == SQLITE_ALTER_TABLE && (column == "name" || column == "tbl_name"))
          return who +
                 "rename tables (the new name cannot be checked): create the new table, "
                 "copy the rows, drop the old one";
        return {};
      }
      if (last_ddl_ == SQLITE_DROP_TABLE && action == SQLITE_DELETE &&
          iequals(text(a1), "sqlite_sequence"))
        return {};
      return refuse_table(verb, a1);
    }

    case SQLITE_CREATE_TABLE:
      // The first AUTOINCREMENT table of a database makes SQLite create its counter table.
      if (last_ddl_ == SQLITE_CREATE_TABLE && iequals(text(a1), "sqlite_sequence")) return {};
      [[fallthrough]];
    case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_VTABLE:
      if (!owns(a1)) return refuse_table("create", a1);
      // Full-text search and R-trees; not dbstat, sqlite_stmt, sqlite_dbpage and the like,
      // which read the whole database file or the connection, below the authorizer.
      if (action == SQLITE_CREATE_VTABLE && !kModules.count(text(a2)))
        return who + "create a virtual table of module " + text(a2);
      if (has_upper_case(a1))
        return who + "create " + text(a1) + ": names are lower case (portable SQL)";
      last_ddl_ = action;
      return {};

    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_VTABLE:
      if (!owns(a1)) return refuse_table("drop", a1);
      last_ddl_ = action;
      return {};

    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TRIGGER: {
      const bool index = action == SQLITE_CREATE_INDEX || action == SQLITE_DROP_INDEX;
      const bool create = action == SQLITE_CREATE_INDEX || action == SQLITE_CREATE_TRIGGER;
      if (!owns(a2)) return refuse_table(index ? "index" : "put a trigger on", a2);
      if (!owns(a1))
        return who + (create ? "create " : "drop ") + (index ? "index " : "trigger ") + text(a1) +
               ": its objects are named " + prefix_ + "*";
      if (create && has_upper_case(a1))
        return who + "create " + text(a1) + ": names are lower case (portable SQL)";
      last_ddl_ = action;
      return {};
    }

    case SQLITE_REINDEX:
      if (owns(a1)) return {};
      return who + "reindex " + text(a1);

    case SQLITE_ALTER_TABLE:  // a1 is the schema, a2 the table
      if (!owns(a2)) return refuse_table("alter", a2);
      last_ddl_ = action;
      return {};

    case SQLITE_PRAGMA: {
      // Reading its own tables' shape is harmless; FTS5 asks data_version. Nothing else: a
      // pragma changes the connection that the core and the other plugins share.
      static const std::set<std::string, std::less<>> kIntrospection = {
          "table_info", "table_xinfo", "index_list",
          "index_info", "index_xinfo", "foreign_key_list"};
      const std::string name = text(a1);
      if (!a2 && name == "data_version") return {};
      if (kIntrospection.count(name) && owns(a2)) return {};
      return who + "run PRAGMA " + name + (a2 ? "(" + text(a2) + ")" : "");
    }

    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      // The connection goes back to the pool after each call: an open transaction would leak
      // into someone else's statements.
      return who + "begin or end transactions itself: use Database::transaction()";

    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      return who + "attach or detach databases";

    case SQLITE_ANALYZE:
      return who + "run ANALYZE (it writes statistics of every table)";

    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
      return who + "use temporary objects (the connection is shared): " + text(a1);

    default:
      return who + "do this (SQLite action " + std::to_string(action) + ")";
  }
}

}  // namespace passerelle
