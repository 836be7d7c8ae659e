#include "store/pg_store.hpp"

#include "auth/crypto.hpp"
#include "log/log.hpp"
#include "store/core_schema.hpp"
#include "store/pg_sql.hpp"
#include "store/table_guard.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <exception>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
    if (pg && PQtransactionStatus(pg) == PQTRANS_ACTIVE) cancel_on_server();
    if (pg) PQfinish(pg);
  }
  // A statement still running (its deadline passed, its caller has gone): closing the socket
  // alone leaves the server working on it, its locks held, until it next writes to the client.
  // PQcancel blocks (it connects): on a thread of its own, which the process may end.
  void cancel_on_server() {
    PGcancel* cancel = PQgetCancel(pg);
    if (!cancel) return;
    std::thread([cancel] {
      char error[256];
      PQcancel(cancel, error, sizeof error);
      PQfreeCancel(cancel);
    }).detach();
  }
  bool discard = false;  // its session was changed (a migration's): not given out again
  bool reset = false;    // DISCARD ALL ran after the last statement: lent again as it is
  bool usable() const {
    return !discard && pg && PQstatus(pg) == CONNECTION_OK &&
           PQtransactionStatus(pg) == PQTRANS_IDLE;
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
  // Shared with the timer's handler, which may run after this wait ended (both completed in
  // the same pass): it then touches nothing.
  struct Race {
    bool over = false;
    bool timed_out = false;
  };
  auto race = std::make_shared<Race>();
  c.timer.expires_at(deadline);
  c.timer.async_wait([&c, race](boost::system::error_code ec) {
    if (ec || race->over) return;
    race->timed_out = true;
    if (c.socket) c.socket->cancel();
  });
  auto [ec] = co_await c.socket->async_wait(what, asio::as_tuple(asio::use_awaitable));
  race->over = true;
  c.timer.cancel();
  if (race->timed_out) throw ConnectionLost("the database did not answer in time", sent);
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

// Reads all the socket holds. Asio's waits are edge-triggered: data that came before the wait
// (more than one read takes, say a large result) raises no new edge, so it is read first.
bool drain(Connection& c, bool until_empty = false) {
  for (int i = 0; i < 1024; ++i) {
    if (!PQconsumeInput(c.pg)) return false;
    if (!until_empty && !PQisBusy(c.pg)) return true;
    pollfd p{PQsocket(c.pg), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return true;
  }
  return true;
}

// Waits until libpq can give a result. With TLS, OpenSSL may hold a record libpq has not
// read yet, which no socket edge announces: the wait then comes back every 50 ms to look.
Task<void> wait_result(Connection& c, Clock::time_point deadline) {
  if (!drain(c)) throw ConnectionLost(message_of(c.pg), true);
  while (PQisBusy(c.pg)) {
    const auto slice = PQsslInUse(c.pg)
                           ? std::min(deadline, Clock::now() + std::chrono::milliseconds(50))
                           : deadline;
    try {
      co_await wait_socket(c, WaitType::wait_read, slice, true);
    } catch (const ConnectionLost&) {
      if (slice == deadline || Clock::now() >= deadline) throw;
    }
    if (!drain(c)) throw ConnectionLost(message_of(c.pg), true);
  }
}

// Reads every result of what was sent (in a pipeline, `to_sync`: up to its next
// synchronisation point); the last result set is the answer. An SQL error throws
// std::runtime_error once the connection is ready again; a lost connection, ConnectionLost.
Task<QueryResult> collect(Connection& c, Clock::time_point deadline, bool to_sync = false) {
  QueryResult out;
  std::optional<std::string> error;
  for (;;) {
    co_await wait_result(c, deadline);
    PGresult* r = PQgetResult(c.pg);
    if (!r) {
      if (to_sync) continue;  // the end of one statement's results: its sync comes next
      break;
    }
    const ExecStatusType status = PQresultStatus(r);
    if (to_sync && status == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      break;
    }
    if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
      // COPY would have libpq hand out this result for ever; the connection, left in the
      // middle of it, is dropped when given back.
      PQclear(r);
      c.discard = true;
      throw std::runtime_error("COPY is not supported: use INSERT and SELECT");
    }
    add_result(r, out, error);
    PQclear(r);
  }
  if (PQstatus(c.pg) != CONNECTION_OK) throw ConnectionLost(message_of(c.pg), true);
  if (error) throw std::runtime_error(*error);
  co_return out;
}

// Queues one statement with parameters (the extended protocol: one statement only).
void send_statement(Connection& c, const Statement& statement) {
  c.reset = false;
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
}

// One statement with parameters.
Task<QueryResult> execute(Connection& c, const Statement& statement, Clock::time_point deadline) {
  send_statement(c, statement);
  co_await flush(c, deadline);
  co_return co_await collect(c, deadline);
}

// A plugin's statement and the reset of its session (DISCARD ALL: what its SQL may have SET,
// locked or prepared) in one round trip (pipeline mode), where two used to follow each other:
// the connection is then lent again at once.
Task<QueryResult> execute_and_reset(Connection& c, const Statement& statement,
                                    Clock::time_point deadline) {
  if (!PQenterPipelineMode(c.pg)) co_return co_await execute(c, statement, deadline);
  send_statement(c, statement);
  Statement discard{"DISCARD ALL", {}};
  if (!PQpipelineSync(c.pg)) throw ConnectionLost(message_of(c.pg), false);
  send_statement(c, discard);
  if (!PQpipelineSync(c.pg)) throw ConnectionLost(message_of(c.pg), true);
  co_await flush(c, deadline);
  std::optional<QueryResult> result;
  std::exception_ptr failed;
  try {
    result = co_await collect(c, deadline, true);
  } catch (const ConnectionLost&) {
    throw;
  } catch (...) {
    failed = std::current_exception();  // an SQL error: the reset runs all the same
  }
  try {
    co_await collect(c, deadline, true);
    c.reset = PQexitPipelineMode(c.pg) == 1;
  } catch (const ConnectionLost&) {
    throw;
  } catch (...) {
    c.discard = true;  // not reset: not lent again
  }
  if (!c.reset) c.discard = true;
  if (failed) std::rethrow_exception(failed);
  co_return std::move(*result);
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

namespace {

// A pool of connections as one role: the gateway's own, or one plugin's.
struct Pool : std::enable_shared_from_this<Pool> {
  PgOptions options;
  asio::io_context& ioc;
  std::string user;      // set: connect as this role (a plugin's), else as the URL says
  std::string password;  // its password
  // Only the store's thread touches these.
  std::vector<std::unique_ptr<Connection>> idle;
  unsigned open = 0;  // idle, lent and connecting
  std::deque<asio::steady_timer*> waiting;
  Clock::time_point retry_after{};
  Clock::duration backoff{};
  std::atomic<unsigned> open_count{0};
  std::atomic<bool> reachable{true};
  Clock::time_point last_success{};

  Pool(PgOptions o, asio::io_context& context) : options(std::move(o)), ioc(context) {}

  Clock::time_point statement_deadline() const {
    return Clock::now() + options.statement_timeout + options.connect_timeout;
  }

  PGconn* start_connecting() const {
    if (user.empty()) return PQconnectStart(options.url.c_str());
    // The URL's host, port, database and TLS settings; this role and its password.
    const char* keys[] = {"dbname", "user", "password", nullptr};
    const char* values[] = {options.url.c_str(), user.c_str(), password.c_str(), nullptr};
    return PQconnectStartParams(keys, values, 1);
  }

  Task<std::unique_ptr<Connection>> connect() {
    auto c = std::make_unique<Connection>(ioc);
    c->pg = start_connecting();
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
      // libpq's message on a URL it cannot read quotes the URL, password included.
      std::string why = message_of(c->pg);
      for (auto at = why.find(options.url); at != std::string::npos; at = why.find(options.url))
        why.replace(at, options.url.size(), "(store.postgresql.url)");
      throw ConnectionLost("cannot connect to PostgreSQL: " + why, false);
    }
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
    // Notices ("table does not exist, skipping") would go to stderr: they are not errors.
    PQsetNoticeProcessor(
        c->pg, [](void*, const char*) {}, nullptr);
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
        reachable = false;
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
    if (c && c->usable() && !user.empty() && !c->reset) {
      // A plugin's session may hold what its SQL set (SET, advisory locks, prepared
      // statements, temporary tables): reset before it is given out again.
      asio::co_spawn(ioc, reset_then_return(shared_from_this(), std::move(c)), asio::detached);
      return;
    }
    give_back(std::move(c));
  }

  static Task<void> reset_then_return(std::shared_ptr<Pool> self, std::unique_ptr<Connection> c) {
    try {
      co_await simple(*c, "DISCARD ALL", Clock::now() + self->options.connect_timeout);
    } catch (...) {
      c->discard = true;
    }
    self->give_back(std::move(c));
  }

  void give_back(std::unique_ptr<Connection> c) {
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

  void close_all() {
    idle.clear();
    open = 0;
    open_count = 0;
  }
};

}  // namespace

struct PgStore::Impl {
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::shared_ptr<Pool> core;
  asio::steady_timer health{ioc};
  bool stopping = false;  // the store's thread only
  // The connection waiting for notifications (one for every channel), and the retry timers:
  // cancelled at the end.
  std::vector<Connection*> listening;
  std::vector<asio::steady_timer*> retrying;
  // What listen() asked for (the store's thread only): the listening loop LISTENs on each.
  struct Listener {
    std::function<void(const std::string&)> on_message;
    std::function<void()> on_resumed;
  };
  std::map<std::string, std::vector<Listener>> channels;
  bool listening_started = false;
  // Notifications not yet sent (any thread adds), those sent on a channel this store listens
  // to and not yet heard back (the store's thread keeps which), and who waits for both counts
  // to fall to zero (the store's thread only).
  std::atomic<int> notifying{0};
  std::atomic<int> unechoed{0};
  struct Echo {
    std::uint64_t id;
    std::string channel, payload;
    Clock::time_point sent;
  };
  std::list<Echo> awaiting_echo;  // in the order sent
  std::uint64_t next_echo = 0;

  // Forgets the echoes awaited for over 2 s (lost, or come before they were recorded): a write
  // never waits for them again.
  void expire_echoes() {
    const auto old = Clock::now() - std::chrono::seconds(2);
    while (!awaiting_echo.empty() && awaiting_echo.front().sent < old) {
      awaiting_echo.pop_front();
      --unechoed;
    }
  }
  std::vector<asio::steady_timer*> notify_waiters;

  void wake_notify_waiters() {
    if (notifying.load() == 0 && unechoed.load() == 0)
      for (auto* waiter : notify_waiters) waiter->cancel();
  }
  std::mutex mutex;
  std::vector<std::shared_ptr<Pool>> plugins;  // their pools, closed with the core's

  explicit Impl(PgOptions o) : core(std::make_shared<Pool>(std::move(o), ioc)) {}
};

namespace {

// A connection lent for one call, given back (or dropped when unusable) at the end.
struct Lease {
  Pool& store;
  std::unique_ptr<Connection> c;
  Lease(Pool& s, std::unique_ptr<Connection> connection) : store(s), c(std::move(connection)) {}
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { store.release(std::move(c)); }
};

Task<QueryResult> run_query(std::shared_ptr<Pool> s, Statement statement) {
  for (int attempt = 0;; ++attempt) {
    {
      auto c = co_await s->acquire();
      Lease lease(*s, std::move(c));
      try {
        QueryResult result;
        if (s->user.empty())
          result = co_await execute(*lease.c, statement, s->statement_deadline());
        else  // a plugin's: its session reset in the same round trip
          result = co_await execute_and_reset(*lease.c, statement, s->statement_deadline());
        s->reachable = true;
        s->last_success = Clock::now();
        co_return result;
      } catch (const ConnectionLost& e) {
        s->reachable = false;
        if (attempt > 0 || (e.sent && !is_single_select(statement.sql)))
          throw StoreUnavailable(e.what());
      }
    }
    log::warn("store", "database connection lost; the statement is sent again",
              {{"attempt", attempt + 1}});
  }
}

Task<std::vector<QueryResult>> run_transaction(std::shared_ptr<Pool> s,
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

std::string literal(PGconn* pg, const std::string& text) {
  char* quoted = PQescapeLiteral(pg, text.data(), text.size());
  if (!quoted) throw std::runtime_error(message_of(pg));
  std::string out = quoted;
  PQfreemem(quoted);
  return out;
}

std::string identifier(PGconn* pg, const std::string& text) {
  char* quoted = PQescapeIdentifier(pg, text.data(), text.size());
  if (!quoted) throw std::runtime_error(message_of(pg));
  std::string out = quoted;
  PQfreemem(quoted);
  return out;
}

constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (owner TEXT NOT NULL, version INTEGER NOT "
    "NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (owner, version))";

// Takes the lock every instance takes for migrations and role set-ups, without the statement
// timeout (waiting for another instance, building an index): the connection is dropped after.
Task<void> lock_migrations(Connection& conn, Clock::time_point deadline) {
  conn.discard = true;
  co_await simple(conn, "SET statement_timeout = 0", deadline);
  co_await simple(conn, "SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")",
                  deadline);
}

// Gives the lock back (it goes with the session anyway), then rethrows what failed under it, a
// lost connection as StoreUnavailable.
Task<void> unlock_migrations(Connection& conn, Clock::time_point deadline,
                             std::exception_ptr failed) {
  try {
    co_await simple(conn, "SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")",
                    deadline);
  } catch (...) {
  }
  if (!failed) co_return;
  try {
    std::rethrow_exception(failed);
  } catch (const ConnectionLost& e) {
    throw StoreUnavailable(e.what());
  }
}

// How one owner's migrations are told applied and recorded: the core's in schema_migrations
// directly, a plugin's through the definer functions (as its role).
struct MigrationBook {
  std::string owner;
  std::string seen_sql;    // ?1: the version; one boolean back
  std::string record_sql;  // ?1: the version, ?2: now
  std::string prefix;      // a plugin's: whatever else its migration creates is undone
};

// Applies those not applied yet, each with its record in one transaction, under the lock.
Task<int> apply_migrations(Connection& conn, MigrationBook book,
                           std::vector<Migration> migrations) {
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  co_await lock_migrations(conn, deadline);
  int applied = 0;
  std::exception_ptr failed;
  try {
    if (book.prefix.empty()) co_await simple(conn, kMigrationsTable, deadline);
    int last = 0;
    for (const auto& m : migrations) {
      const std::string which = "migration " + std::to_string(m.version) + " of " + book.owner;
      if (m.version <= last)
        throw std::runtime_error("migrations of " + book.owner + " must have increasing versions");
      last = m.version;
      const std::string* sql = sql_for(m);
      if (!sql) throw std::runtime_error(which + " has no SQL for postgresql");
      co_await simple(conn, "BEGIN", deadline);
      std::exception_ptr step_failed;
      try {
        const Statement seen{book.seen_sql, {std::int64_t{m.version}}};
        auto done = co_await execute(conn, seen, deadline);
        if (std::get<std::int64_t>(done.rows.at(0).at(0)) == 0) {
          try {
            if (!sql->empty()) co_await simple(conn, *sql, deadline);
          } catch (const ConnectionLost&) {
            throw;
          } catch (const std::exception& e) {
            throw std::runtime_error(which + ": " + e.what());
          }
          if (!book.prefix.empty()) {
            const Statement stray{
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                "AND n.nspname = current_schema() AND left(c.relname, length(?1)) <> ?1",
                {book.prefix}};
            auto others = co_await execute(conn, stray, deadline);
            if (!others.rows.empty())
              throw std::runtime_error(which + ": " + std::get<std::string>(others.rows[0][0]) +
                                       " is not one of its tables (named " + book.prefix + "...)");
          }
          const Statement record{
              book.record_sql,
              {std::int64_t{m.version},
               std::int64_t{std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()}}};
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
  co_await unlock_migrations(conn, deadline, failed);
  co_return applied;
}

Task<int> run_migrations(std::shared_ptr<Pool> s, std::string owner,
                         std::vector<Migration> migrations) {
  auto c = co_await s->acquire();
  Lease lease(*s, std::move(c));
  const std::string quoted = literal(lease.c->pg, owner);
  MigrationBook book{
      owner,
      "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE owner = " + quoted +
          " AND version = ?1)",
      "INSERT INTO schema_migrations (owner, version, applied_at) VALUES (" + quoted + ", ?1, ?2)",
      ""};
  co_return co_await apply_migrations(*lease.c, std::move(book), std::move(migrations));
}

}  // namespace

namespace {

// Each plugin connects as a role of its own, which owns its tables, in a schema of the same
// name, and nothing else: the core's tables and the other plugins' are not its to read,
// whatever SQL it sends (a RESET ROLE included: its session is that role). The gateway's role
// creates it (CREATEROLE), with a password derived from the gateway's secret, the same on every
// instance.
std::string plugin_role(const std::string& plugin) {
  return "passerelle_" + table_prefix(plugin) + "plugin";
}

std::string role_password(const std::string& secret, const std::string& role) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t length = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                 reinterpret_cast<const unsigned char*>(role.data()), role.size(), mac, sizeof mac,
                 &length))
    throw std::runtime_error("cannot derive a plugin role's password");
  return auth::to_hex(std::string_view(reinterpret_cast<const char*>(mac), length));
}

const char* const kPluginFunctions = R"sql(
CREATE TABLE IF NOT EXISTS plugin_roles (role TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE OR REPLACE FUNCTION passerelle_plugin_migrated(v bigint) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
  $f$ SELECT EXISTS (SELECT 1 FROM public.schema_migrations m JOIN public.plugin_roles r
      ON m.owner = r.owner WHERE r.role = session_user AND m.version = v) $f$;
CREATE OR REPLACE FUNCTION passerelle_plugin_record(v bigint, at bigint) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
  $f$ INSERT INTO public.schema_migrations (owner, version, applied_at)
      SELECT r.owner, v, at FROM public.plugin_roles r WHERE r.role = session_user $f$;
REVOKE ALL ON FUNCTION passerelle_plugin_migrated(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION passerelle_plugin_record(bigint, bigint) FROM PUBLIC;
)sql";

// Creates (or updates) the plugin's role, as the gateway's role, under the migrations' lock.
Task<void> set_up_role(std::shared_ptr<Pool> core, std::string role, std::string password,
                       std::string owner) {
  auto c = co_await core->acquire();
  Lease lease(*core, std::move(c));
  Connection& conn = *lease.c;
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  co_await lock_migrations(conn, deadline);
  std::exception_ptr failed;
  try {
    const std::string r = identifier(conn.pg, role);
    const std::string role_text = literal(conn.pg, role);
    // A SCRAM verifier, not the password: an error's context or the server's log may show the
    // statement.
    char* verifier =
        PQencryptPasswordConn(conn.pg, password.c_str(), role.c_str(), "scram-sha-256");
    if (!verifier) throw std::runtime_error("cannot prepare a plugin role: " + message_of(conn.pg));
    const std::string pw = literal(conn.pg, verifier);
    PQfreemem(verifier);
    co_await simple(conn, kMigrationsTable, deadline);
    co_await simple(conn, kPluginFunctions, deadline);
    co_await simple(
        conn,
        "DO $do$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + role_text +
            ") THEN EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L NOINHERIT', " + role_text +
            ", " + pw + "); ELSE EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', " + role_text +
            ", " + pw + "); END IF; END $do$; " +
            // Bounded: its connections (2 per instance's pool, and a few being replaced, for up
            // to some 30 instances: the limit counts over the whole cluster), and the time
            // of its statements whatever it SETs (DISCARD ALL brings this default back).
            "ALTER ROLE " + r +
            " NOCREATEDB NOCREATEROLE CONNECTION LIMIT 64; "
            "ALTER ROLE " +
            r +
            " SET statement_timeout = " + std::to_string(core->options.statement_timeout.count()) +
            // Its tables in a schema of its own, the only one it may create in and the only
            // one it sees unqualified: another plugin's cannot shadow or squat its names, nor
            // it the core's (CVE-2018-1058's pattern).
            "; CREATE SCHEMA IF NOT EXISTS " + r + "; GRANT USAGE, CREATE ON SCHEMA " + r + " TO " +
            r + "; REVOKE CREATE ON SCHEMA public FROM " + r + "; ALTER ROLE " + r +
            " SET search_path = " + r +
            "; GRANT EXECUTE ON FUNCTION passerelle_plugin_migrated(bigint), "
            "passerelle_plugin_record(bigint, bigint) TO " +
            r + "; INSERT INTO plugin_roles (role, owner) VALUES (" + role_text + ", " +
            literal(conn.pg, owner) + ") ON CONFLICT (role) DO UPDATE SET owner = excluded.owner",
        deadline);
  } catch (...) {
    failed = std::current_exception();
  }
  co_await unlock_migrations(conn, deadline, failed);
}

// The plugin's migrations, on its own connection (as its role), recorded through the definer
// functions; a migration that creates anything not named with the plugin's prefix is undone.
Task<int> run_plugin_migrations(std::shared_ptr<Pool> own, std::string owner, std::string prefix,
                                std::vector<Migration> migrations) {
  auto c = co_await own->acquire();
  Lease lease(*own, std::move(c));
  MigrationBook book{std::move(owner), "SELECT public.passerelle_plugin_migrated(?1)",
                     "SELECT public.passerelle_plugin_record(?1, ?2)", std::move(prefix)};
  co_return co_await apply_migrations(*lease.c, std::move(book), std::move(migrations));
}

// What a plugin's handle shares with its calls: the store's thread stays while they run.
struct PluginSide {
  std::shared_ptr<PgStore::Impl> store;
  std::shared_ptr<Pool> own;
  std::string role, password, owner, prefix;
  bool role_ready = false;  // read and written on the store's thread only
};

Task<void> ensure_role(std::shared_ptr<PluginSide> p) {
  if (p->role_ready) co_return;
  co_await set_up_role(p->store->core, p->role, p->password, p->owner);
  p->role_ready = true;
}

Task<QueryResult> plugin_query(std::shared_ptr<PluginSide> p, Statement statement) {
  co_await ensure_role(p);
  co_return co_await run_query(p->own, std::move(statement));
}

Task<std::vector<QueryResult>> plugin_transaction(std::shared_ptr<PluginSide> p,
                                                  std::vector<Statement> statements) {
  co_await ensure_role(p);
  co_return co_await run_transaction(p->own, std::move(statements));
}

Task<int> plugin_migrate(std::shared_ptr<PluginSide> p, std::vector<Migration> migrations) {
  co_await ensure_role(p);
  co_return co_await run_plugin_migrations(p->own, p->owner, p->prefix, std::move(migrations));
}

class PgPluginStore final : public PluginStore {
 public:
  explicit PgPluginStore(std::shared_ptr<PluginSide> side) : side_(std::move(side)) {}

  Task<QueryResult> query(Statement statement) override {
    auto task = plugin_query(side_, std::move(statement));
    co_return co_await asio::co_spawn(side_->store->ioc, std::move(task), asio::use_awaitable);
  }
  Task<std::vector<QueryResult>> transaction(std::vector<Statement> statements) override {
    auto task = plugin_transaction(side_, std::move(statements));
    co_return co_await asio::co_spawn(side_->store->ioc, std::move(task), asio::use_awaitable);
  }
  std::string dialect() const override { return "postgresql"; }
  Task<int> migrate(std::vector<Migration> migrations) override {
    auto task = plugin_migrate(side_, std::move(migrations));
    co_return co_await asio::co_spawn(side_->store->ioc, std::move(task), asio::use_awaitable);
  }

 private:
  std::shared_ptr<PluginSide> side_;
};

}  // namespace

std::unique_ptr<PluginStore> PgStore::for_plugin(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("a plugin has a name");
  if (auto table = core_table_reached(name); !table.empty())
    throw std::invalid_argument("plugin \"" + name + "\" cannot have a store: its tables (" +
                                table_prefix(name) + "*) would include the core's " + table);
  const PgOptions& core = impl_->core->options;
  if (core.role_secret.empty())
    throw std::invalid_argument("the PostgreSQL store needs a secret to give plugins their roles");
  auto side = std::make_shared<PluginSide>();
  side->store = impl_;
  PgOptions own = core;
  own.connections = std::max(1u, std::min(2u, core.connections));
  side->own = std::make_shared<Pool>(own, impl_->ioc);
  side->role = plugin_role(name);
  side->password = role_password(core.role_secret, side->role);
  side->own->user = side->role;
  side->own->password = side->password;
  side->owner = "plugin:" + name;
  side->prefix = table_prefix(name);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->plugins.push_back(side->own);
  }
  return std::make_unique<PgPluginStore>(std::move(side));
}

namespace {

// Every 2 s without a statement that succeeded: SELECT 1, so that /readyz tells a database gone
// while the gateway was idle, and one come back.
Task<void> check_health(std::shared_ptr<PgStore::Impl> s) {
  constexpr auto kEvery = std::chrono::seconds(2);
  while (!s->stopping) {
    if (Clock::now() - s->core->last_success >= kEvery) {
      // Named first: g++ 12 destroys a braced temporary in a co_await expression twice.
      Statement probe{"SELECT 1", {}};
      try {
        co_await run_query(s->core, std::move(probe));
      } catch (...) {
        // run_query marked it unreachable
      }
    }
    s->health.expires_after(kEvery);
    co_await s->health.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace

PgStore::PgStore(PgOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {
  if (impl_->core->options.connections == 0)
    throw std::invalid_argument("store: at least 1 connection");
  asio::co_spawn(impl_->ioc, check_health(impl_), asio::detached);
  thread_ = std::thread([impl = impl_] { impl->ioc.run(); });
}

PgStore::~PgStore() { join(); }

void PgStore::join() {
  if (!thread_.joinable()) return;
  asio::post(impl_->ioc, [impl = impl_] {
    impl->stopping = true;
    impl->health.cancel();
    for (auto* c : impl->listening)
      if (c->socket) c->socket->cancel();
    for (auto* t : impl->retrying) t->cancel();
    // Closed on the thread that owns their sockets.
    impl->core->close_all();
    std::lock_guard lock(impl->mutex);
    for (auto& pool : impl->plugins) pool->close_all();
  });
  impl_->work.reset();
  thread_.join();  // statements under way end first (their deadlines bound them)
}

unsigned PgStore::open_connections() const { return impl_->core->open_count.load(); }

bool PgStore::available() const { return impl_->core->reachable.load(); }

namespace {

Task<void> send_notification(std::shared_ptr<PgStore::Impl> s, std::string channel,
                             std::string payload) {
  Statement notify{"SELECT pg_notify(?1, ?2)", {channel, payload}};
  // Once committed, the database has it for every listener, this store's own included, which
  // hears it back about when the other instances hear it. Awaited from before it is sent: the
  // echo may come before the answer to the statement.
  std::optional<std::uint64_t> echo;
  if (s->channels.contains(channel) && !s->listening.empty()) {
    echo = ++s->next_echo;
    s->awaiting_echo.push_back({*echo, channel, payload, Clock::now()});
    ++s->unechoed;
  }
  try {
    co_await run_query(s->core, std::move(notify));
  } catch (const std::exception& e) {
    log::warn("store", "notification not sent", {{"error", e.what()}});
    if (echo) {
      const auto before = s->awaiting_echo.size();
      std::erase_if(s->awaiting_echo, [&](const auto& e) { return e.id == *echo; });
      s->unechoed -= static_cast<int>(before - s->awaiting_echo.size());
    }
  }
  --s->notifying;
  s->wake_notify_waiters();
}

// On the store's thread: until no notification is left to send, or the deadline.
Task<void> wait_notifications(std::shared_ptr<PgStore::Impl> s, Clock::time_point deadline) {
  asio::steady_timer timer(s->ioc, deadline);
  s->notify_waiters.push_back(&timer);
  for (;;) {
    s->expire_echoes();
    if ((s->notifying.load() == 0 && s->unechoed.load() == 0) || Clock::now() >= deadline ||
        s->stopping)
      break;
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  std::erase(s->notify_waiters, &timer);
}

// Hands one payload to the listeners of its channel.
void deliver(PgStore::Impl& s, const std::string& channel, const std::string& payload) {
  s.expire_echoes();
  const auto sent =
      std::find_if(s.awaiting_echo.begin(), s.awaiting_echo.end(),
                   [&](const auto& e) { return e.channel == channel && e.payload == payload; });
  if (sent != s.awaiting_echo.end()) {
    // One of this store's own, heard back: applied here already, when it was sent.
    s.awaiting_echo.erase(sent);
    --s.unechoed;
    s.wake_notify_waiters();
    return;
  }
  if (auto it = s.channels.find(channel); it != s.channels.end())
    for (const auto& listener : it->second) listener.on_message(payload);
}

// One connection LISTENs on every channel asked for, those asked for later included (listen()
// wakes it); when it was lost, every listener gets "*" once it listens again.
Task<void> listen_loop(std::shared_ptr<PgStore::Impl> s) {
  bool first = true;
  asio::steady_timer retry(s->ioc);
  s->retrying.push_back(&retry);
  while (!s->stopping) {
    std::unique_ptr<Connection> c;
    std::set<std::string> listened;
    // LISTEN on the channels not listened to yet on this connection.
    const auto listen_all = [&]() -> Task<void> {
      for (const auto& [channel, handlers] : s->channels)
        if (!listened.contains(channel)) {
          co_await simple(*c, "LISTEN " + identifier(c->pg, channel),
                          Clock::now() + s->core->options.connect_timeout);
          listened.insert(channel);
        }
    };
    try {
      c = co_await s->core->connect();
      co_await listen_all();
    } catch (const std::exception&) {
      c.reset();  // tried again in a second
    }
    if (c) {
      if (!first)  // while it was not listening, messages may have gone by
        for (const auto& [channel, listeners] : s->channels)
          for (const auto& listener : listeners) listener.on_resumed();
      first = false;
      s->listening.push_back(c.get());
      while (!s->stopping && drain(*c, true)) {
        while (PGnotify* n = PQnotifies(c->pg)) {
          const std::string channel = n->relname, payload = n->extra;
          PQfreemem(n);
          deliver(*s, channel, payload);
        }
        const auto quiet_until = Clock::now() + std::chrono::seconds(30);
        try {
          if (listened.size() != s->channels.size()) co_await listen_all();
          co_await wait_socket(*c, WaitType::wait_read, quiet_until, true);
        } catch (const ConnectionLost&) {
          // A quiet while, a channel to add, or the end: the status tells.
        }
        if (PQstatus(c->pg) != CONNECTION_OK) break;
        if (!s->stopping && Clock::now() >= quiet_until) {
          // Nothing heard for a while: a connection silently gone (a half-open TCP link
          // stays "OK" for hours) would leave this instance deaf. Asked, it answers or is
          // replaced.
          try {
            co_await simple(*c, "SELECT 1", Clock::now() + s->core->options.connect_timeout);
          } catch (const std::exception&) {
            break;
          }
        }
      }
      std::erase(s->listening, c.get());
      c.reset();
      // What was awaited back may never come: nobody waits for it any longer.
      s->unechoed -= static_cast<int>(s->awaiting_echo.size());
      s->awaiting_echo.clear();
      s->wake_notify_waiters();
      if (s->stopping) break;
      log::warn("store", "lost the connection that listens for notifications", {});
    }
    retry.expires_after(std::chrono::seconds(1));
    co_await retry.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  std::erase(s->retrying, &retry);
}

}  // namespace

void PgStore::notify(const std::string& channel, const std::string& payload) {
  ++impl_->notifying;
  asio::co_spawn(impl_->ioc, send_notification(impl_, channel, payload), asio::detached);
}

Task<void> PgStore::notifications_sent() {
  if (impl_->notifying.load() == 0 && impl_->unechoed.load() == 0) co_return;
  auto task = wait_notifications(impl_, Clock::now() + std::chrono::seconds(1));
  co_await asio::co_spawn(impl_->ioc, std::move(task), asio::use_awaitable);
}

void PgStore::listen(const std::string& channel, std::function<void(const std::string&)> on_message,
                     std::function<void()> on_resumed) {
  asio::post(impl_->ioc, [s = impl_, channel, on_message = std::move(on_message),
                          on_resumed = std::move(on_resumed)]() mutable {
    s->channels[channel].push_back({std::move(on_message), std::move(on_resumed)});
    if (!s->listening_started) {
      s->listening_started = true;
      asio::co_spawn(s->ioc, listen_loop(s), asio::detached);
    } else {
      for (auto* c : s->listening)  // wakes the loop, which LISTENs on it too
        if (c->socket) c->socket->cancel();
    }
  });
}

Task<QueryResult> PgStore::query(Statement statement) {
  auto task = run_query(impl_->core, std::move(statement));
  co_return co_await asio::co_spawn(impl_->ioc, std::move(task), asio::use_awaitable);
}

Task<std::vector<QueryResult>> PgStore::transaction(std::vector<Statement> statements) {
  auto task = run_transaction(impl_->core, std::move(statements));
  co_return co_await asio::co_spawn(impl_->ioc, std::move(task), asio::use_awaitable);
}

Task<int> PgStore::migrate(std::string owner, std::vector<Migration> migrations) {
  auto task = run_migrations(impl_->core, std::move(owner), std::move(migrations));
  co_return co_await asio::co_spawn(impl_->ioc, std::move(task), asio::use_awaitable);
}

}  // namespace passerelle
