#include "store/pg_store.hpp"

#include "log/log.hpp"
#include "store/pg_sql.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <exception>
#include <optional>
#include <thread>

namespace passerelle {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using WaitType = asio::posix::descriptor_base::wait_type;

namespace {

// The advisory lock every instance takes to apply migrations ("passerel", as a bigint).
constexpr std::int64_t kMigrationLock = 0x706173736572656c;
constexpr auto kMaxBackoff = std::chrono::seconds(5);

// The server went away, or never answered. `sent`: the statement may have reached it.
class ConnectionLost : public StoreUnavailable {
 public:
  ConnectionLost(const std::string& what, bool sent) : StoreUnavailable(what), sent(sent) {}
  bool sent;
};

std::string message_of(PGconn* pg) {
  std::string m = pg ? PQerrorMessage(pg) : "out of memory";
  while (!m.empty() && std::isspace(static_cast<unsigned char>(m.back()))) m.pop_back();
  return m.empty() ? "connection lost" : m;
}

struct Connection {
  PGconn* pg = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> socket;
  asio::steady_timer timer;

  explicit Connection(asio::io_context& ioc) : timer(ioc) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (socket) socket->release();  // libpq owns the descriptor
    if (pg) PQfinish(pg);
  }
  bool usable() const {
    return pg && PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) == PQTRANS_IDLE;
  }
  // (Re)wraps libpq's socket: registering it anew reports the readiness it already has.
  void attach(asio::io_context& ioc) {
    if (socket) socket->release();
    socket.reset();
    const int fd = PQsocket(pg);
    if (fd >= 0) socket = std::make_unique<asio::posix::stream_descriptor>(ioc, fd);
  }
};

// Waits until the socket is ready for `what`, or throws at `deadline`.
Task<void> wait_socket(Connection& c, WaitType what, Clock::time_point deadline, bool sent) {
  if (!c.socket) throw ConnectionLost("no socket to the database", sent);
  auto timed_out = std::make_shared<bool>(false);
  c.timer.expires_at(deadline);
  c.timer.async_wait([&c, timed_out](boost::system::error_code ec) {
    if (ec) return;
    *timed_out = true;
    if (c.socket) c.socket->cancel();
  });
  auto [ec] = co_await c.socket->async_wait(what, asio::as_tuple(asio::use_awaitable));
  c.timer.cancel();
  if (*timed_out) throw ConnectionLost("the database did not answer in time", sent);
  if (ec) throw ConnectionLost("database socket: " + ec.message(), sent);
}

// Sends what libpq holds, waiting while the socket is full.
Task<void> flush(Connection& c, Clock::time_point deadline) {
  for (;;) {
    const int r = PQflush(c.pg);
    if (r == 0) co_return;
    if (r < 0) throw ConnectionLost(message_of(c.pg), true);
    co_await wait_socket(c, WaitType::wait_write, deadline, true);
  }
}

void add_result(PGresult* r, QueryResult& out, std::optional<std::string>& error) {
  switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK: {
      const int columns = PQnfields(r);
      const int rows = PQntuples(r);
      out.columns.clear();
      out.rows.clear();
      for (int j = 0; j < columns; ++j) out.columns.emplace_back(PQfname(r, j));
      out.rows.reserve(static_cast<std::size_t>(rows));
      for (int i = 0; i < rows; ++i) {
        std::vector<SqlValue> row;
        row.reserve(static_cast<std::size_t>(columns));
        for (int j = 0; j < columns; ++j) {
          if (PQgetisnull(r, i, j)) {
            row.emplace_back(nullptr);
          } else {
            row.push_back(pg::value_of(
                PQftype(r, j), std::string_view(PQgetvalue(r, i, j),
                                                static_cast<std::size_t>(PQgetlength(r, i, j)))));
          }
        }
        out.rows.push_back(std::move(row));
      }
      if (const char* n = PQcmdTuples(r); n && *n) out.changes = std::atoll(n);
      break;
    }
    case PGRES_COMMAND_OK:
      if (const char* n = PQcmdTuples(r); n && *n) out.changes = std::atoll(n);
      break;
    case PGRES_EMPTY_QUERY:
      break;
    default:
      if (!error) {
        std::string m = PQresultErrorMessage(r);
        while (!m.empty() && std::isspace(static_cast<unsigned char>(m.back()))) m.pop_back();
        error = m.empty() ? std::string("statement failed") : m;
      }
  }
}

// Reads every result of what was sent; the last result set is the answer. An SQL error throws
// std::runtime_error once the connection is ready again; a lost connection, ConnectionLost.
Task<QueryResult> collect(Connection& c, Clock::time_point deadline) {
  QueryResult out;
  std::optional<std::string> error;
  for (;;) {
    // Read what came before waiting: an edge the reactor saw earlier is not seen again.
    if (!PQconsumeInput(c.pg)) throw ConnectionLost(message_of(c.pg), true);
    while (PQisBusy(c.pg)) {
      co_await wait_socket(c, WaitType::wait_read, deadline, true);
      if (!PQconsumeInput(c.pg)) throw ConnectionLost(message_of(c.pg), true);
    }
    PGresult* r = PQgetResult(c.pg);
    if (!r) break;
    add_result(r, out, error);
    PQclear(r);
  }
  if (PQstatus(c.pg) != CONNECTION_OK) throw ConnectionLost(message_of(c.pg), true);
  if (error) throw std::runtime_error(*error);
  co_return out;
}

// One statement with parameters (the extended protocol: one statement only).
Task<QueryResult> execute(Connection& c, const Statement& statement, Clock::time_point deadline) {
  const std::string sql = pg::translate_placeholders(statement.sql);
  std::vector<pg::Parameter> params;
  params.reserve(statement.params.size());
  for (const auto& v : statement.params) params.push_back(pg::parameter(v));
  std::vector<const char*> values;
  std::vector<Oid> types;
  for (const auto& p : params) {
    values.push_back(p.null ? nullptr : p.text.c_str());
    types.push_back(p.type);
  }
  if (!PQsendQueryParams(c.pg, sql.c_str(), static_cast<int>(params.size()), types.data(),
                         values.data(), nullptr, nullptr, 0)) {
    if (PQstatus(c.pg) != CONNECTION_OK) throw ConnectionLost(message_of(c.pg), false);
    throw std::runtime_error(message_of(c.pg));
  }
  co_await flush(c, deadline);
  co_return co_await collect(c, deadline);
}

// SQL text as written, several statements allowed (the simple protocol): migrations, BEGIN.
Task<void> simple(Connection& c, const std::string& sql, Clock::time_point deadline) {
  if (!PQsendQuery(c.pg, sql.c_str())) {
    if (PQstatus(c.pg) != CONNECTION_OK) throw ConnectionLost(message_of(c.pg), false);
    throw std::runtime_error(message_of(c.pg));
  }
  co_await flush(c, deadline);
  co_await collect(c, deadline);
}

bool is_single_select(const std::string& sql) {
  std::size_t i = 0;
  while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
  if (sql.size() - i < 6) return false;
  std::string head = sql.substr(i, 6);
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  // A SELECT may still call a function that writes; the store's own reads do not, and a
  // plugin's SELECT that writes is sent again at worst once, after a lost connection.
  return head == "select";
}

const std::string* sql_for(const Migration& m) {
  if (auto it = m.sql_by_dialect.find("postgresql"); it != m.sql_by_dialect.end())
    return &it->second;
  return m.sql.empty() ? nullptr : &m.sql;
}

}  // namespace

struct PgStore::Impl {
  PgOptions options;
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  // Only the store's thread touches these.
  std::vector<std::unique_ptr<Connection>> idle;
  unsigned open = 0;  // idle, lent and connecting
  std::deque<asio::steady_timer*> waiting;
  Clock::time_point retry_after{};
  Clock::duration backoff{};
  std::atomic<unsigned> open_count{0};

  explicit Impl(PgOptions o) : options(std::move(o)) {}

  Clock::time_point statement_deadline() const {
    return Clock::now() + options.statement_timeout + options.connect_timeout;
  }

  Task<std::unique_ptr<Connection>> connect() {
    auto c = std::make_unique<Connection>(ioc);
    c->pg = PQconnectStart(options.url.c_str());
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD)
      throw ConnectionLost("cannot connect to PostgreSQL: " + message_of(c->pg), false);
    const auto deadline = Clock::now() + options.connect_timeout;
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    while (status != PGRES_POLLING_OK) {
      if (status == PGRES_POLLING_FAILED)
        throw ConnectionLost("cannot connect to PostgreSQL: " + message_of(c->pg), false);
      c->attach(ioc);
      co_await wait_socket(
          *c, status == PGRES_POLLING_READING ? WaitType::wait_read : WaitType::wait_write,
          deadline, false);
      status = PQconnectPoll(c->pg);
    }
    c->attach(ioc);
    if (PQsetnonblocking(c->pg, 1) != 0)
      throw ConnectionLost("cannot use PostgreSQL: " + message_of(c->pg), false);
    co_await simple(*c,
                    "SET statement_timeout = " + std::to_string(options.statement_timeout.count()) +
                        "; SET client_encoding = 'UTF8'",
                    deadline);
    co_return c;
  }

  // A connection of the pool: an idle one, a new one while fewer than `connections` are open,
  // else the next one given back. Throws StoreUnavailable when none comes in time.
  Task<std::unique_ptr<Connection>> acquire() {
    const auto deadline = Clock::now() + options.connect_timeout;
    for (;;) {
      while (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        if (c->usable()) co_return c;
        forget();
      }
      if (open < options.connections) {
        if (Clock::now() < retry_after)
          throw StoreUnavailable("the database is unavailable; the store retries by itself");
        ++open;
        open_count = open;
        std::exception_ptr failed;
        try {
          auto c = co_await connect();
          backoff = {};
          co_return c;
        } catch (...) {
          failed = std::current_exception();
        }
        forget();
        backoff = std::min<Clock::duration>(
            backoff == Clock::duration{} ? std::chrono::milliseconds(100) : backoff * 2,
            kMaxBackoff);
        retry_after = Clock::now() + backoff;
        std::rethrow_exception(failed);
      }
      asio::steady_timer turn(ioc, deadline);
      waiting.push_back(&turn);
      auto [ec] = co_await turn.async_wait(asio::as_tuple(asio::use_awaitable));
      std::erase(waiting, &turn);
      if (!ec) throw StoreUnavailable("no database connection was free in time");
    }
  }

  void release(std::unique_ptr<Connection> c) {
    if (c && c->usable())
      idle.push_back(std::move(c));
    else
      forget();
    if (!waiting.empty()) {
      waiting.front()->cancel();
      waiting.pop_front();
    }
  }

  void forget() {
    --open;
    open_count = open;
  }
};

namespace {

// A connection lent for one call, given back (or dropped when unusable) at the end.
struct Lease {
  PgStore::Impl& store;
  std::unique_ptr<Connection> c;
  Lease(PgStore::Impl& s, std::unique_ptr<Connection> connection)
      : store(s), c(std::move(connection)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { store.release(std::move(c)); }
};

Task<QueryResult> run_query(std::shared_ptr<PgStore::Impl> s, Statement statement) {
  for (int attempt = 0;; ++attempt) {
    {
      auto c = co_await s->acquire();
      Lease lease(*s, std::move(c));
      try {
        co_return co_await execute(*lease.c, statement, s->statement_deadline());
      } catch (const ConnectionLost& e) {
        if (attempt > 0 || (e.sent && !is_single_select(statement.sql)))
          throw StoreUnavailable(e.what());
      }
    }
    log::warn("store", "database connection lost; the statement is sent again",
              {{"attempt", attempt + 1}});
  }
}

Task<std::vector<QueryResult>> run_transaction(std::shared_ptr<PgStore::Impl> s,
                                               std::vector<Statement> statements) {
  auto c = co_await s->acquire();
  Lease lease(*s, std::move(c));
  const auto deadline = s->statement_deadline();
  std::vector<QueryResult> results;
  std::exception_ptr failed;
  try {
    co_await simple(*lease.c, "BEGIN", deadline);
    for (const auto& statement : statements)
      results.push_back(co_await execute(*lease.c, statement, deadline));
    co_await simple(*lease.c, "COMMIT", deadline);
    co_return results;
  } catch (const ConnectionLost& e) {
    throw StoreUnavailable(e.what());  // never sent again: a lost COMMIT may have committed
  } catch (...) {
    failed = std::current_exception();
  }
  // An SQL error: the transaction is aborted; ROLLBACK gives the connection back clean.
  try {
    co_await simple(*lease.c, "ROLLBACK", deadline);
  } catch (...) {
  }
  std::rethrow_exception(failed);
}

Task<int> run_migrations(std::shared_ptr<PgStore::Impl> s, std::string owner,
                         std::vector<Migration> migrations) {
  auto c = co_await s->acquire();
  Lease lease(*s, std::move(c));
  Connection& conn = *lease.c;
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  co_await simple(conn, "SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")",
                  deadline);
  int applied = 0;
  std::exception_ptr failed;
  try {
    co_await simple(conn,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (owner TEXT NOT NULL, version "
                    "INTEGER NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (owner, version))",
                    deadline);
    int last = 0;
    for (const auto& m : migrations) {
      if (m.version <= last)
        throw std::runtime_error("migrations of " + owner + " must have increasing versions");
      last = m.version;
      const std::string* sql = sql_for(m);
      if (!sql)
        throw std::runtime_error("migration " + std::to_string(m.version) + " of " + owner +
                                 " has no SQL for postgresql");
      co_await simple(conn, "BEGIN", deadline);
      std::exception_ptr step_failed;
      try {
        // Named first: g++ 12 mishandles a braced initialiser inside a co_await expression.
        const Statement seen{"SELECT 1 FROM schema_migrations WHERE owner = ?1 AND version = ?2",
                             {owner, std::int64_t{m.version}}};
        auto done = co_await execute(conn, seen, deadline);
        if (done.rows.empty()) {
          try {
            if (!sql->empty()) co_await simple(conn, *sql, deadline);
          } catch (const ConnectionLost&) {
            throw;
          } catch (const std::exception& e) {
            throw std::runtime_error("migration " + std::to_string(m.version) + " of " + owner +
                                     ": " + e.what());
          }
          const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
          const Statement record{
              "INSERT INTO schema_migrations (owner, version, applied_at) VALUES (?1, ?2, ?3)",
              {owner, std::int64_t{m.version}, std::int64_t{now}}};
          co_await execute(conn, record, deadline);
          ++applied;
        }
        co_await simple(conn, "COMMIT", deadline);
      } catch (...) {
        step_failed = std::current_exception();
      }
      if (step_failed) {
        try {
          co_await simple(conn, "ROLLBACK", deadline);
        } catch (...) {
        }
        std::rethrow_exception(step_failed);
      }
    }
  } catch (...) {
    failed = std::current_exception();
  }
  try {
    co_await simple(conn, "SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")",
                    deadline);
  } catch (...) {
    // The lock goes with the session: the connection is dropped if it is unusable.
  }
  if (failed) {
    try {
      std::rethrow_exception(failed);
    } catch (const ConnectionLost& e) {
      throw StoreUnavailable(e.what());
    }
  }
  co_return applied;
}

}  // namespace

PgStore::PgStore(PgOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  if (impl_->options.connections == 0) throw std::invalid_argument("store: at least 1 connection");
  thread_ = std::thread([impl = impl_] { impl->ioc.run(); });
}

PgStore::~PgStore() {
  asio::post(impl_->ioc, [impl = impl_] {
    impl->idle.clear();  // closes them, on the thread that owns their sockets
    impl->open = 0;
    impl->open_count = 0;
  });
  impl_->work.reset();
  thread_.join();
}

unsigned PgStore::open_connections() const { return impl_->open_count.load(); }

Task<QueryResult> PgStore::query(Statement statement) {
  auto task = run_query(impl_, std::move(statement));
  co_return co_await asio::co_spawn(impl_->ioc, std::move(task), asio::use_awaitable);
}

Task<std::vector<QueryResult>> PgStore::transaction(std::vector<Statement> statements) {
  auto task = run_transaction(impl_, std::move(statements));
  co_return co_await asio::co_spawn(impl_->ioc, std::move(task), asio::use_awaitable);
}

Task<int> PgStore::migrate(std::string owner, std::vector<Migration> migrations) {
  auto task = run_migrations(impl_, std::move(owner), std::move(migrations));
  co_return co_await asio::co_spawn(impl_->ioc, std::move(task), asio::use_awaitable);
}

}  // namespace passerelle
