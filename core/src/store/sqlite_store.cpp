// SQLite behind a thread pool: each job borrows a connection, runs (for the core, or confined to
// one plugin's tables), and resumes the caller.
#include "store/sqlite_store.hpp"

#include "store/core_schema.hpp"
#include "store/statement_cache.hpp"
#include "store/table_guard.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace passerelle {

namespace asio = boost::asio;

namespace {

struct Connection {
  explicit Connection(std::size_t cached_statements) : statements(cached_statements) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    // SQLite refuses to close a connection with statements left (and would keep it open).
    statements.clear();
    guard.release();
    sqlite3_close(db);
  }

  sqlite3* db = nullptr;
  TableGuard guard;
  StatementCache statements;
  // A plugin's statement runs until then: a runaway query (an endless recursive CTE, say)
  // would otherwise keep one of the few connections, and the core waits for one too.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::chrono::milliseconds plugin_limit{0};
};

// SQLite's progress handler, every few thousand VM steps: nonzero interrupts the statement.
int past_deadline(void* connection) {
  const auto& c = *static_cast<const Connection*>(connection);
  return c.guard.confined() && std::chrono::steady_clock::now() > c.deadline;
}

// Runs `body` with the connection's statements confined to `plugin` (empty: the core).
template <class F>
auto as(Connection& c, const std::string& plugin, F&& body) {
  struct Restore {
    TableGuard& guard;
    ~Restore() { guard.confine(""); }
  } restore{c.guard};
  c.guard.confine(plugin);
  return body();
}

[[noreturn]] void raise(Connection& c, const std::string& what) {
  // A refusal of the guard says which table and why; SQLite would only say "not authorized".
  if (!c.guard.refusal().empty()) throw std::runtime_error("store: " + c.guard.refusal());
  if (sqlite3_errcode(c.db) == SQLITE_INTERRUPT && c.guard.confined())
    throw std::runtime_error("store: a plugin's statement is stopped after " +
                             std::to_string(c.plugin_limit.count()) + " ms");
  throw std::runtime_error(what + ": " + sqlite3_errmsg(c.db));
}

using StatementPtr = std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)>;

// Before each statement, prepared or taken from the cache: the guard's state and the deadline.
void begin(Connection& c) {
  c.guard.begin_statement(c.db);
  c.deadline = c.guard.confined() ? std::chrono::steady_clock::now() + c.plugin_limit
                                  : std::chrono::steady_clock::time_point::max();
}

// Prepares the first statement of `sql`; null when there is none (only blanks or comments).
// `tail` receives what follows it. Call begin() first.
sqlite3_stmt* prepare(Connection& c, std::string_view sql, const char** tail, unsigned flags) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(c.db, sql.data(), static_cast<int>(sql.size()), flags, &stmt, tail) !=
      SQLITE_OK) {
    sqlite3_finalize(stmt);
    raise(c, "sqlite prepare");
  }
  return stmt;
}

// Portable SQL: PostgreSQL numbers its parameters too, so a plugin writes ?1..?n.
void check_placeholders(Connection& c, sqlite3_stmt* stmt, std::string_view sql) {
  if (!stmt || !c.guard.confined()) return;
  for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    if (!name || name[0] != '?')
      throw std::runtime_error("store: parameter " + std::to_string(i) + " of \"" +
                               std::string(sql.substr(0, 60)) + "\" must be written ?" +
                               std::to_string(i) + " (numbered placeholders only)");
  }
}

// The statement `sql` for whoever the guard serves now: from the connection's cache, or
// prepared (and checked) then cached. Keyed by the guard's owner: see StatementCache.
StatementCache::Lease statement(Connection& c, const std::string& sql) {
  begin(c);
  if (auto cached = c.statements.find(c.guard.plugin(), sql)) return cached;
  const char* tail = nullptr;
  auto fresh = c.statements.adopt(prepare(c, sql, &tail, SQLITE_PREPARE_PERSISTENT));
  if (!fresh) throw std::runtime_error("sqlite: empty statement");
  if (tail && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos)
    throw std::runtime_error("sqlite: one statement per query (use transaction() for several)");
  check_placeholders(c, fresh.get(), sql);
  fresh.keep(c.guard.plugin(), sql);
  return fresh;
}

void bind(Connection& c, sqlite3_stmt* stmt, const std::vector<SqlValue>& params) {
  if (static_cast<int>(params.size()) > sqlite3_bind_parameter_count(stmt))
    throw std::runtime_error("sqlite: more parameters than placeholders");
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int idx = static_cast<int>(i + 1);
    const SqlValue& v = params[i];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(v))
      rc = sqlite3_bind_null(stmt, idx);
    else if (auto* n = std::get_if<std::int64_t>(&v))
      rc = sqlite3_bind_int64(stmt, idx, *n);
    else if (auto* d = std::get_if<double>(&v))
      rc = sqlite3_bind_double(stmt, idx, *d);
    else {
      const auto& s = std::get<std::string>(v);
      rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) raise(c, "sqlite bind");
  }
}

QueryResult run(Connection& c, const Statement& st) {
  const StatementCache::Lease stmt = statement(c, st.sql);
  bind(c, stmt.get(), st.params);
  QueryResult result;
  const int columns = sqlite3_column_count(stmt.get());
  for (int col = 0; col < columns; ++col)
    result.columns.emplace_back(sqlite3_column_name(stmt.get(), col));
  for (;;) {
    const int rc = sqlite3_step(stmt.get());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) raise(c, "sqlite step");
    std::vector<SqlValue> row;
    row.reserve(columns);
    for (int col = 0; col < columns; ++col) {
      switch (sqlite3_column_type(stmt.get(), col)) {
        case SQLITE_NULL:
          row.emplace_back(nullptr);
          break;
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt.get(), col)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(stmt.get(), col));
          break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), col));
          row.emplace_back(std::string(text ? text : "", sqlite3_column_bytes(stmt.get(), col)));
        }
      }
    }
    result.rows.push_back(std::move(row));
  }
  result.changes = sqlite3_changes64(c.db);
  result.last_insert_id = sqlite3_last_insert_rowid(c.db);
  return result;
}

// Runs every statement of a script (a migration), each through the guard.
void run_script(Connection& c, const std::string& sql) {
  std::string_view rest(sql);
  while (!rest.empty()) {
    const char* tail = nullptr;
    begin(c);
    // A script runs once: its statements are not cached.
    StatementPtr stmt(prepare(c, rest, &tail, 0), sqlite3_finalize);
    if (stmt) check_placeholders(c, stmt.get(), rest);
    rest.remove_prefix(static_cast<std::size_t>(tail - rest.data()));
    if (!stmt) continue;
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) raise(c, "sqlite");
  }
}

void exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + message);
  }
}

// BEGIN and COMMIT are the store's, never the plugin's: they run unconfined.
template <class F>
auto in_transaction(Connection& c, const std::string& plugin, F&& body) {
  exec(c.db, "BEGIN IMMEDIATE");
  try {
    auto out = as(c, plugin, body);
    exec(c.db, "COMMIT");
    return out;
  } catch (...) {
    sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<QueryResult> run_all(Connection& c, const std::string& plugin,
                                 const std::vector<Statement>& statements) {
  return in_transaction(c, plugin, [&] {
    std::vector<QueryResult> out;
    for (const auto& st : statements) out.push_back(run(c, st));
    return out;
  });
}

// The text of `m` for `dialect`, or null when it has none.
const std::string* sql_for(const Migration& m, const std::string& dialect) {
  if (auto it = m.sql_by_dialect.find(dialect); it != m.sql_by_dialect.end()) return &it->second;
  return m.sql.empty() ? nullptr : &m.sql;
}

int apply_migrations(Connection& c, const std::string& owner, const std::string& plugin,
                     const std::vector<Migration>& ms) {
  int applied = 0;
  int last = 0;
  for (const auto& m : ms) {
    if (m.version <= last)
      throw std::runtime_error("migrations of " + owner + " must have increasing versions");
    last = m.version;
    const std::string* sql = sql_for(m, "sqlite");
    if (!sql)
      throw std::runtime_error("migration " + std::to_string(m.version) + " of " + owner +
                               " has no SQL for sqlite");
    in_transaction(c, "", [&] {
      auto done = run(c, {"SELECT 1 FROM schema_migrations WHERE owner=?1 AND version=?2",
                          {owner, std::int64_t{m.version}}});
      if (!done.rows.empty()) return 0;
      try {
        as(c, plugin, [&] {
          run_script(c, *sql);
          return 0;
        });
      } catch (const std::exception& e) {
        throw std::runtime_error("migration " + std::to_string(m.version) + " of " + owner + ": " +
                                 e.what());
      }
      run(c, {"INSERT INTO schema_migrations(owner, version) VALUES (?1, ?2)",
              {owner, std::int64_t{m.version}}});
      ++applied;
      return 0;
    });
  }
  return applied;
}

}  // namespace

struct SqliteStore::Impl {
  asio::thread_pool pool;
  std::mutex mutex;
  std::vector<Connection*> free;
  std::vector<std::unique_ptr<Connection>> all;

  explicit Impl(unsigned threads) : pool(threads) {}
  ~Impl() {
    pool.join();
    all.clear();  // each connection finalizes its statements, then closes
  }

  // Borrows a connection for the duration of `f`. There are as many connections as pool
  // threads, so one is always free when a pool thread asks.
  template <class F>
  auto with_connection(F&& f) {
    Connection* c;
    {
      std::lock_guard lock(mutex);
      c = free.back();
      free.pop_back();
    }
    struct Return {
      Impl* self;
      Connection* c;
      ~Return() {
        c->guard.confine("");
        c->deadline = std::chrono::steady_clock::time_point::max();
        // Never hand on a connection inside a transaction someone forgot to end.
        if (!sqlite3_get_autocommit(c->db))
          sqlite3_exec(c->db, "ROLLBACK", nullptr, nullptr, nullptr);
        std::lock_guard lock(self->mutex);
        self->free.push_back(c);
      }
    } give_back{this, c};
    return f(*c);
  }

  // Runs `f` with a connection on a pool thread, then hands its result (or its exception)
  // straight to the caller's executor: one hop there, one back. (co_spawn, used before,
  // allocated two coroutine frames per call and, in Boost 1.81, queued the job's end on the
  // pool once more before resuming the caller.)
  //
  // The job is not tied to the caller's cancellation (a handler at its deadline): it cannot
  // stop halfway anyway. The cancelled caller gets the result and stops at its next co_await.
  template <class R>
  struct Initiation {
    Impl* self;

    template <class Handler, class F>
    void operator()(Handler handler, F f) const {
      auto caller = asio::prefer(asio::get_associated_executor(handler),
                                 asio::execution::outstanding_work.tracked);
      asio::post(self->pool, [self = self, handler = std::move(handler), caller = std::move(caller),
                              f = std::move(f)]() mutable {
        std::exception_ptr error;
        std::optional<R> result;
        try {
          result.emplace(self->with_connection(f));
        } catch (...) {
          error = std::current_exception();
        }
        asio::post(caller,
                   [handler = std::move(handler), error, result = std::move(result)]() mutable {
                     std::move(handler)(error, result ? std::move(*result) : R{});
                   });
      });
    }
  };

  template <class R, class F>
  Task<R> offload(F f) {
    return asio::async_initiate<const asio::use_awaitable_t<>, void(std::exception_ptr, R)>(
        Initiation<R>{this}, asio::use_awaitable, std::move(f));
  }

  Task<QueryResult> query(std::string plugin, Statement statement) {
    return offload<QueryResult>(
        [plugin = std::move(plugin), st = std::move(statement)](Connection& c) {
          return as(c, plugin, [&] { return run(c, st); });
        });
  }

  Task<std::vector<QueryResult>> transaction(std::string plugin, std::vector<Statement> sts) {
    return offload<std::vector<QueryResult>>(
        [plugin = std::move(plugin), sts = std::move(sts)](Connection& c) {
          return run_all(c, plugin, sts);
        });
  }

  Task<int> migrate(std::string owner, std::string plugin, std::vector<Migration> ms) {
    return offload<int>([owner = std::move(owner), plugin = std::move(plugin), ms = std::move(ms)](
                            Connection& c) { return apply_migrations(c, owner, plugin, ms); });
  }
};

SqliteStore::SqliteStore(const std::string& path, unsigned threads,
                         std::chrono::milliseconds plugin_statement_limit,
                         std::size_t cached_statements, SqliteMemory memory)
    : impl_(std::make_unique<Impl>(threads)) {
  // SQLite's memory statistics take a global mutex on every allocation, for figures nobody
  // reads here (5 % of a search's CPU): off, before the library's first use.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  if (path != ":memory:") {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  }
  for (unsigned i = 0; i < threads; ++i) {
    auto c = std::make_unique<Connection>(cached_statements);
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &c->db, flags, nullptr) != SQLITE_OK) {
      std::string message = c->db ? sqlite3_errmsg(c->db) : "out of memory";
      throw std::runtime_error("cannot open store " + path + ": " + message);
    }
    sqlite3_busy_timeout(c->db, 5000);
    // Defensive: no statement may write the schema table directly (writable_schema stays
    // off), which TableGuard relies on.
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    // WAL: readers do not block the writer. FULL: a commit is on disk before it is answered,
    // so an accepted request survives a power cut too, not only a crash of the process.
    exec(c->db,
         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA "
         "mmap_size=268435456; PRAGMA cache_size=-16384;");
    c->guard.install(c->db);
    c->plugin_limit = plugin_statement_limit;
    sqlite3_progress_handler(c->db, 10000, &past_deadline, c.get());
    impl_->free.push_back(c.get());
    impl_->all.push_back(std::move(c));
  }
  exec(impl_->all.front()->db,
       "CREATE TABLE IF NOT EXISTS schema_migrations ("
       " owner TEXT NOT NULL, version INTEGER NOT NULL,"
       " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
       " PRIMARY KEY (owner, version))");
}

void SqliteStore::join() { impl_->pool.join(); }

SqliteStore::~SqliteStore() = default;

StatementCacheStats SqliteStore::statement_cache_stats() const {
  StatementCacheStats total;
  for (const auto& c : impl_->all) {
    const StatementCacheStats one = c->statements.stats();
    total.prepares += one.prepares;
    total.hits += one.hits;
    total.evictions += one.evictions;
    total.size += one.size;
  }
  return total;
}

Task<QueryResult> SqliteStore::query(Statement statement) {
  return impl_->query("", std::move(statement));
}

Task<std::vector<QueryResult>> SqliteStore::transaction(std::vector<Statement> statements) {
  return impl_->transaction("", std::move(statements));
}

Task<int> SqliteStore::migrate(std::string owner, std::vector<Migration> migrations) {
  return impl_->migrate(std::move(owner), "", std::move(migrations));
}

std::unique_ptr<PluginStore> SqliteStore::for_plugin(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("a plugin has a name");
  // Its prefix would hold a core table ("user" owns "user_*", so user_links): refused.
  if (auto table = core_table_reached(name); !table.empty())
    throw std::invalid_argument("plugin \"" + name + "\" cannot have a store: its tables (" +
                                table_prefix(name) + "*) would include the core's " + table);
  return std::unique_ptr<PluginDatabase>(new PluginDatabase(*impl_, name));
}

Task<QueryResult> PluginDatabase::query(Statement statement) {
  return store_.query(plugin_, std::move(statement));
}

Task<std::vector<QueryResult>> PluginDatabase::transaction(std::vector<Statement> statements) {
  return store_.transaction(plugin_, std::move(statements));
}

Task<int> PluginDatabase::migrate(std::vector<Migration> migrations) {
  return store_.migrate("plugin:" + plugin_, plugin_, std::move(migrations));
}

}  // namespace passerelle
