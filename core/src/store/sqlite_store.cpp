// SQLite behind a thread pool: each job borrows a connection, runs, and resumes the caller.
#include "store/sqlite_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>

namespace passerelle {

namespace asio = boost::asio;

namespace {

[[noreturn]] void raise(sqlite3* db, const std::string& what) {
  throw std::runtime_error(what + ": " + sqlite3_errmsg(db));
}

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("sqlite: " + message);
  }
}

QueryResult run(sqlite3* db, const Statement& st) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, st.sql.c_str(), static_cast<int>(st.sql.size()), &stmt, nullptr) !=
      SQLITE_OK)
    raise(db, "sqlite prepare");
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
  if (static_cast<int>(st.params.size()) > sqlite3_bind_parameter_count(stmt))
    throw std::runtime_error("sqlite: more parameters than placeholders");
  for (std::size_t i = 0; i < st.params.size(); ++i) {
    const int idx = static_cast<int>(i + 1);
    const SqlValue& v = st.params[i];
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(v)) rc = sqlite3_bind_null(stmt, idx);
    else if (auto* n = std::get_if<std::int64_t>(&v)) rc = sqlite3_bind_int64(stmt, idx, *n);
    else if (auto* d = std::get_if<double>(&v)) rc = sqlite3_bind_double(stmt, idx, *d);
    else {
      const auto& s = std::get<std::string>(v);
      rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) raise(db, "sqlite bind");
  }
  QueryResult result;
  const int columns = sqlite3_column_count(stmt);
  for (int c = 0; c < columns; ++c) result.columns.emplace_back(sqlite3_column_name(stmt, c));
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) raise(db, "sqlite step");
    std::vector<SqlValue> row;
    row.reserve(columns);
    for (int c = 0; c < columns; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL: row.emplace_back(nullptr); break;
        case SQLITE_INTEGER: row.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c))); break;
        case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(stmt, c)); break;
        default: {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.emplace_back(std::string(text ? text : "", sqlite3_column_bytes(stmt, c)));
        }
      }
    }
    result.rows.push_back(std::move(row));
  }
  result.changes = sqlite3_changes64(db);
  result.last_insert_id = sqlite3_last_insert_rowid(db);
  return result;
}

template <class F>
auto in_transaction(sqlite3* db, F&& body) {
  exec(db, "BEGIN IMMEDIATE");
  try {
    auto out = body();
    exec(db, "COMMIT");
    return out;
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace

struct SqliteStore::Impl {
  asio::thread_pool pool;
  std::mutex mutex;
  std::vector<sqlite3*> free;
  std::vector<sqlite3*> all;

  explicit Impl(unsigned threads) : pool(threads) {}

  // Borrows a connection for the duration of `f`. There are as many connections as pool
  // threads, so one is always free when a pool thread asks.
  template <class F>
  auto with_connection(F&& f) {
    sqlite3* db;
    {
      std::lock_guard lock(mutex);
      db = free.back();
      free.pop_back();
    }
    struct Return {
      Impl* self;
      sqlite3* db;
      ~Return() {
        std::lock_guard lock(self->mutex);
        self->free.push_back(db);
      }
    } give_back{this, db};
    return f(db);
  }

  // Not a coroutine itself, and no capturing coroutine lambda: g++ 12 destroys the captures
  // of such lambdas twice. The job is a plain coroutine taking its arguments by value.
  template <class R, class F>
  static asio::awaitable<R> job(Impl* self, F f) {
    co_return self->with_connection(f);
  }

  template <class R, class F>
  Task<R> offload(F f) {
    return asio::co_spawn(pool, job<R>(this, std::move(f)), asio::use_awaitable);
  }
};

SqliteStore::SqliteStore(const std::string& path, unsigned threads)
    : impl_(std::make_unique<Impl>(threads)) {
  if (path != ":memory:") {
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent);
  }
  for (unsigned i = 0; i < threads; ++i) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
      std::string message = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      for (auto* open : impl_->all) sqlite3_close(open);
      throw std::runtime_error("cannot open store " + path + ": " + message);
    }
    impl_->all.push_back(db);
    impl_->free.push_back(db);
    sqlite3_busy_timeout(db, 5000);
    // WAL: readers do not block the writer. FULL: a commit is on disk before it is answered,
    // so an accepted request survives a power cut too, not only a crash of the process.
    exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  }
  exec(impl_->all.front(),
       "CREATE TABLE IF NOT EXISTS schema_migrations ("
       " owner TEXT NOT NULL, version INTEGER NOT NULL,"
       " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
       " PRIMARY KEY (owner, version))");
}

void SqliteStore::join() { impl_->pool.join(); }

SqliteStore::~SqliteStore() {
  impl_->pool.join();
  for (auto* db : impl_->all) sqlite3_close(db);
}

Task<QueryResult> SqliteStore::query(Statement statement) {
  return impl_->offload<QueryResult>(
      [st = std::move(statement)](sqlite3* db) { return run(db, st); });
}

Task<std::vector<QueryResult>> SqliteStore::transaction(std::vector<Statement> statements) {
  return impl_->offload<std::vector<QueryResult>>([sts = std::move(statements)](sqlite3* db) {
    return in_transaction(db, [&] {
      std::vector<QueryResult> out;
      for (const auto& st : sts) out.push_back(run(db, st));
      return out;
    });
  });
}

Task<int> SqliteStore::migrate(std::string owner, std::vector<Migration> migrations) {
  return impl_->offload<int>([owner = std::move(owner), ms = std::move(migrations)](sqlite3* db) {
    int applied = 0;
    int last = 0;
    for (const auto& m : ms) {
      if (m.version <= last)
        throw std::runtime_error("migrations of " + owner + " must have increasing versions");
      last = m.version;
      in_transaction(db, [&] {
        auto done = run(db, {"SELECT 1 FROM schema_migrations WHERE owner=?1 AND version=?2",
                             {owner, std::int64_t{m.version}}});
        if (!done.rows.empty()) return 0;
        exec(db, m.sql);
        run(db, {"INSERT INTO schema_migrations(owner, version) VALUES (?1, ?2)",
                 {owner, std::int64_t{m.version}}});
        ++applied;
        return 0;
      });
    }
    return applied;
  });
}

}  // namespace passerelle
