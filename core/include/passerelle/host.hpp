// The services the host hands to a plugin: logger, database, outbound HTTP, metrics, config.
#pragma once

#include "passerelle/http.hpp"
#include "passerelle/task.hpp"
#include "passerelle/territories.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace passerelle {

/// Log lines prefixed with the plugin's name. Never log secrets or personal data.
class PASSERELLE_SDK_API Logger {
 public:
  /// Severity of a log line.
  enum class Level { debug, info, warn, error };
  virtual ~Logger() = default;
  /// Writes one line; cheap and non-blocking.
  virtual void log(Level level, std::string_view message) = 0;
  /// Shorthands for log().
  void debug(std::string_view m) { log(Level::debug, m); }
  void info(std::string_view m) { log(Level::info, m); }    ///< Info line.
  void warn(std::string_view m) { log(Level::warn, m); }    ///< Warning line.
  void error(std::string_view m) { log(Level::error, m); }  ///< Error line.
};

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

/// An outbound HTTP(S) request.
struct OutboundRequest {
  std::string method = "GET";                                ///< HTTP method.
  std::string url;                                           ///< Absolute http:// or https:// URL.
  std::vector<std::pair<std::string, std::string>> headers;  ///< Extra request headers.
  std::string body;                                          ///< Request body.
  std::chrono::milliseconds timeout{10000};                  ///< Deadline for the whole exchange.
  std::size_t max_body_bytes = 4 * 1024 * 1024;              ///< Larger responses are refused.
};

/// The response to an OutboundRequest.
struct OutboundResponse {
  int status = 0;                                            ///< HTTP status code.
  std::vector<std::pair<std::string, std::string>> headers;  ///< Lower-case names.
  std::string body;                                          ///< Body bytes.
};

/// Outbound HTTP(S) client: certificates verified against the system store (or the configured
/// CA file). Failure throws HttpError 502 ("upstream_unavailable"), timeout 504.
class PASSERELLE_SDK_API HttpClient {
 public:
  virtual ~HttpClient() = default;
  /// Performs one request; one connection per call.
  virtual Task<OutboundResponse> fetch(OutboundRequest request) = 0;
};

/// An e-mail to one recipient: plain text, UTF-8.
struct Mail {
  std::string to;       ///< one address, e.g. "agent@mairie.fr"
  std::string subject;  ///< one line
  std::string text;     ///< the body
};

/// Sends mail through the gateway's SMTP relay (config `mail:`), off the I/O threads.
class PASSERELLE_SDK_API Mailer {
 public:
  virtual ~Mailer() = default;
  /// False when the gateway has no relay configured: send() then throws.
  virtual bool configured() const = 0;
  /// Hands the message to the relay, within the configured timeout. Throws
  /// std::runtime_error with the reason (relay down, refused, bad address): the caller keeps
  /// the message and tries again later (an outbox in its own tables).
  virtual Task<void> send(Mail mail) = 0;
};

/// The files the plugin's upload routes received (Route::uploads). A plugin reaches only the
/// files it received: another plugin's id is unknown here. Keep the ids in your own tables,
/// with the record they belong to, and check who may read that record before download().
class PASSERELLE_SDK_API Attachments {
 public:
  virtual ~Attachments() = default;
  /// The file's description, or nothing.
  virtual Task<std::optional<Attachment>> find(std::string id) = 0;
  /// An answer that sends the file as a download: its type, `Content-Disposition: attachment`
  /// with its name, `X-Content-Type-Options: nosniff`. HttpError 404 when there is no such file.
  virtual Task<Response> download(std::string id) = 0;
  /// Removes the file; its content goes from the disk once no other attachment shares it.
  virtual Task<void> remove(std::string id) = 0;
};

/// A service one plugin offers the others (SDK 0.6): an interface of its own, derived from
/// this, declared in a header both plugins include (only the header: plugins never link each
/// other), with PASSERELLE_SDK_API so that the cast below works across libraries. Its
/// functions run on the caller's threads, so they must be safe to call from any thread.
class PASSERELLE_SDK_API Service {
 public:
  virtual ~Service() = default;
};

/// A monotonically increasing counter, exported at /metrics.
class PASSERELLE_SDK_API Counter {
 public:
  virtual ~Counter() = default;
  /// Adds `value` (>= 0).
  virtual void add(double value = 1) = 0;
};

/// Metrics registry; names are prefixed with `passerelle_<plugin>_`.
class PASSERELLE_SDK_API Metrics {
 public:
  virtual ~Metrics() = default;
  /// The counter of that name, created on first use; the reference lives as long as the host.
  virtual Counter& counter(const std::string& name, const std::string& help) = 0;
};

/// Everything the host offers one plugin. Valid from start() until stop() returns.
class PASSERELLE_SDK_API Host {
 public:
  virtual ~Host() = default;
  /// The plugin's config section, validated against its schema, defaults filled in.
  virtual const boost::json::object& config() const = 0;
  /// Logger prefixed with the plugin's name.
  virtual Logger& logger() = 0;
  /// The store, confined to the plugin's own tables (see Database).
  virtual Database& database() = 0;
  /// Outbound HTTP(S).
  virtual HttpClient& http() = 0;
  /// Metrics.
  virtual Metrics& metrics() = 0;
  /// Waits without holding a thread; cancelled when the request's deadline passes.
  virtual Task<void> sleep(std::chrono::milliseconds duration) = 0;
  /// Runs blocking work (reading a file, heavy computation) on the host's blocking pool, never
  /// on an I/O thread; exceptions are rethrown to the caller. Name the function object before
  /// the co_await (g++ 12 destroys a lambda written inside a co_await expression twice).
  virtual Task<void> offload(std::function<void()> work) = 0;
  /// The French administrative divisions.
  virtual const Territories& territories() = 0;
  /// A short-lived JWT (ES256, 60 s) asserting `identity` to the service `audience`, verifiable
  /// with the gateway's keys at /.well-known/jwks.json.
  virtual std::string identity_token(const Identity& identity, const std::string& audience) = 0;

  /// Several gateway instances may share one store (PostgreSQL). A plugin that keeps what it
  /// read from the store in memory tells its copies on the other instances that it changed:
  /// announce() after the change is committed sends `message` (at most kMaxAnnouncement
  /// bytes, say what changed, never personal data) to every other instance, where the handler
  /// given to on_announcement() runs. Returns at once; nothing to do with one instance
  /// (SQLite). A message may be lost if the database is lost meanwhile (the others then get
  /// "*"), or when a plugin announces more than 100 a second (dropped, logged): announce what
  /// changed, once per change.
  static constexpr std::size_t kMaxAnnouncement = 1000;
  /// Sends `message` to this plugin on every other instance. std::invalid_argument if too long.
  virtual void announce(const std::string& message) = 0;
  /// The coroutine run, on one of the host's threads, for each message this plugin announced on
  /// another instance, in the order received, one at a time; and with "*" when messages may
  /// have been lost (the store was unreachable for a while): read everything again. Set it
  /// once, in start(); exceptions are logged and dropped.
  virtual void on_announcement(std::function<Task<void>(std::string)> handler) = 0;

  /// The gateway's mail relay (SDK 0.5).
  virtual Mailer& mail() = 0;
  /// The files of the plugin's upload routes (SDK 0.6).
  virtual Attachments& attachments() = 0;

  /// Offers `service` to the other plugins under `name` (one name, one plugin), from start()
  /// on; the plugin keeps it alive until stop(). std::invalid_argument when another running
  /// plugin offers that name.
  virtual void offer(const std::string& name, Service& service) = 0;
  /// The service offered under `name`, or empty when no running plugin offers it (not loaded,
  /// failed, stopped): the caller handles that case. The handle keeps the offering plugin loaded
  /// while it lives: hold it for one call, not for good. Cast with lookup_as<T>() below.
  virtual std::shared_ptr<Service> lookup(const std::string& name) = 0;

  /// lookup() as the interface `T`: empty as well when the service is not a `T`.
  template <class T>
  std::shared_ptr<T> lookup_as(const std::string& name) {
    return std::dynamic_pointer_cast<T>(lookup(name));
  }
};

}  // namespace passerelle
