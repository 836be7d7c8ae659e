// The copy reads every table of the source at once (one SQLite read transaction: the gateway
// may go on writing meanwhile, the copy is of one moment), then writes table after table.
#include "store/store_copy.hpp"

#include "plugins/loaded_plugin.hpp"
#include "store/core_schema.hpp"
#include "store/open_store.hpp"
#include "store/table_guard.hpp"
#include "util/run_sync.hpp"

#include <algorithm>
#include <iomanip>
#include <memory>
#include <stdexcept>

namespace passerelle {

namespace {

// One table to copy: where it is read, where it is written, what was found.
struct TableCopy {
  std::string name;
  std::string owner;       // "core" or the plugin's name
  Database* to = nullptr;  // the core's handle or the plugin's (its role, its schema)
  QueryResult rows;
  std::int64_t copied = 0;
  std::string note;  // why it was not copied
};

// A name as an SQL identifier, whatever it holds.
std::string sql_name(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Rows per INSERT: enough to spare round trips, far below PostgreSQL's 65,535 parameters.
constexpr std::size_t kParametersPerInsert = 1000;

std::vector<Statement> inserts(const std::string& table, const QueryResult& rows) {
  std::vector<Statement> out;
  if (rows.rows.empty() || rows.columns.empty()) return out;
  std::string head = "INSERT INTO " + sql_name(table) + " (";
  for (std::size_t c = 0; c < rows.columns.size(); ++c)
    head += (c ? ", " : "") + sql_name(rows.columns[c]);
  head += ") VALUES ";
  const std::size_t per = std::max<std::size_t>(1, kParametersPerInsert / rows.columns.size());
  for (std::size_t first = 0; first < rows.rows.size(); first += per) {
    Statement s{head, {}};
    const std::size_t last = std::min(rows.rows.size(), first + per);
    for (std::size_t r = first; r < last; ++r) {
      s.sql += r == first ? "(" : ", (";
      for (std::size_t c = 0; c < rows.columns.size(); ++c) {
        s.params.push_back(rows.rows[r][c]);
        s.sql += (c ? ", ?" : "?") + std::to_string(s.params.size());
      }
      s.sql += ")";
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::int64_t count_of(Database& db, const std::string& table) {
  const auto r = run_sync(db.query({"SELECT count(*) FROM " + sql_name(table), {}}));
  return std::get<std::int64_t>(r.rows.at(0).at(0));
}

// Identity columns continue after the ids copied (else the next account would take id 1).
void continue_identities(Database& db, const std::string& table) {
  const auto columns = run_sync(db.query(
      {"SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
       " AND table_name = ?1 AND is_identity = 'YES'",
       {table}}));
  for (const auto& row : columns.rows) {
    const std::string column = std::get<std::string>(row.at(0));
    run_sync(db.query({"SELECT setval(pg_get_serial_sequence(?1, ?2), (SELECT COALESCE(max(" +
                           sql_name(column) + "), 0) + 1 FROM " + sql_name(table) + "), false)",
                       {sql_name(table), column}}));
  }
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() > prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

void copy_store(const Config& config, const StoreCopyOptions& options, std::ostream& out) {
  if (config.store.postgresql)
    throw std::runtime_error("the store of " + config.file +
                             " is PostgreSQL already: copy copies a SQLite store");
  if (options.to.rfind("postgresql://", 0) != 0 && options.to.rfind("postgres://", 0) != 0)
    throw std::runtime_error("--to: give a postgresql:// URL");

  // The target, as the gateway will open it, with the plugins' roles derived from this key.
  StoreConfig target_config = config.store;
  target_config.postgresql = PostgresConfig{};
  target_config.postgresql->url = options.to;
  target_config.postgresql->statement_timeout = std::chrono::minutes(10);  // large tables
  Config as_target = config;
  as_target.store = target_config;
  auto source = open_store(config.store, 1, "");
  auto target = open_store(target_config, 1, plugin_role_secret(as_target));
  const std::string where = describe_store(target_config);

  const auto existing = run_sync(target->query(
      // pg_class, not information_schema: that one lists only what this role may use, and a
      // plugin's schema left from an earlier copy is not.
      {"SELECT n.nspname || '.' || c.relname FROM pg_class c"
       " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm')"
       " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
       " AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1 LIMIT 1",
       {}}));
  if (!existing.rows.empty())
    throw std::runtime_error(where + " is not empty (it has " +
                             std::get<std::string>(existing.rows[0][0]) +
                             "): give a new, empty database");

  // The source brought up to date first (the running gateway did so already, most likely).
  run_sync(source->migrate("core", core_migrations()));
  const auto listed = run_sync(
      source->query({"SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid", {}}));
  std::vector<std::string> source_tables;
  for (const auto& row : listed.rows) source_tables.push_back(std::get<std::string>(row[0]));
  const auto in_source = [&](const std::string& t) {
    return std::find(source_tables.begin(), source_tables.end(), t) != source_tables.end();
  };

  // The target's schema: the core's, then each plugin's under its own role.
  run_sync(target->migrate("core", core_migrations()));
  std::vector<TableCopy> tables;
  for (const auto& name : core_tables()) {
    if (!in_source(name)) continue;  // dropped since (oidc_pending)
    TableCopy t{name, "core", target.get()};
    if (name == "sessions" && !options.sessions)
      t.note = "not asked (--sessions): users log in again";
    tables.push_back(std::move(t));
  }
  std::vector<std::shared_ptr<LoadedPlugin>> libraries;  // loaded while their stores are used
  std::vector<std::unique_ptr<PluginStore>> plugin_stores;
  for (const auto& plugin : config.plugins) {
    libraries.push_back(LoadedPlugin::load(plugin.library));
    plugin_stores.push_back(target->for_plugin(plugin.name));
    run_sync(plugin_stores.back()->migrate(libraries.back()->plugin().migrations()));
    const std::string prefix = table_prefix(plugin.name);
    for (const auto& name : source_tables)
      if (starts_with(name, prefix))
        tables.push_back({name, plugin.name, plugin_stores.back().get()});
  }
  std::vector<std::string> left;  // tables of no one this config knows
  for (const auto& name : source_tables)
    if (name != "schema_migrations" && !name.starts_with("sqlite_") &&
        std::none_of(tables.begin(), tables.end(), [&](const auto& t) { return t.name == name; }))
      left.push_back(name);

  // One read of everything: the copy is of one moment, whatever the gateway does meanwhile.
  std::vector<Statement> reads;
  std::vector<TableCopy*> read_into;
  for (auto& t : tables)
    if (t.note.empty()) {
      reads.push_back({"SELECT * FROM " + sql_name(t.name), {}});
      read_into.push_back(&t);
    }
  auto results = run_sync(source->transaction(std::move(reads)));
  for (std::size_t i = 0; i < results.size(); ++i) read_into[i]->rows = std::move(results[i]);

  for (auto* t : read_into) {
    try {
      run_sync(t->to->transaction(inserts(t->name, t->rows)));
      continue_identities(*t->to, t->name);
      t->copied = count_of(*t->to, t->name);  // here: an empty table of one dialect fails here
    } catch (const std::exception& e) {
      if (t->owner != "core" && std::string(e.what()).find("does not exist") != std::string::npos) {
        // A table of one dialect only (SQLite's full-text index, say): the plugin builds its own.
        t->note = "not on PostgreSQL (the plugin's migrations for it make another shape)";
        continue;
      }
      throw std::runtime_error("copying " + t->name + ": " + e.what() +
                               " (empty the target and copy again)");
    }
  }

  // The report, and the check: every table copied holds as many rows as were read.
  bool all_match = true;
  out << "copied into " << where << ":\n";
  for (const auto& t : tables) {
    out << "  " << std::left << std::setw(36) << t.name << ' ';
    if (!t.note.empty()) {
      out << "-        " << t.note << '\n';
      continue;
    }
    const auto read = static_cast<std::int64_t>(t.rows.rows.size());
    const bool match = read == t.copied;
    all_match = all_match && match;
    out << std::right << std::setw(8) << t.copied << (match ? "" : "  MISMATCH: read ")
        << (match ? "" : std::to_string(read)) << '\n';
  }
  for (const auto& name : left)
    out << "  " << std::left << std::setw(36) << name
        << " -        not copied: neither the core's nor a configured plugin's\n";
  if (!all_match)
    throw std::runtime_error("row counts differ (above): empty the target and copy again");
  out << "row counts match.\n\nNow, in " << config.file
      << ", replace `sqlite: " << config.store.sqlite
      << "` with\n"
         "  store:\n"
         "    postgresql:\n"
         "      url: ${PASSERELLE_PG_URL}   # "
      << where
      << ", the password in the environment\n"
         "and keep auth.secret_key(_file) as it is: every instance needs that same key (it "
         "opens the sealed secrets copied and gives the plugins' roles their passwords).\n"
         "Stop the SQLite gateway before starting on PostgreSQL: what it writes after this "
         "copy is not in it.\n";
}

}  // namespace passerelle
