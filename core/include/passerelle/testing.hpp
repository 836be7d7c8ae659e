// The SDK's test kit: runs a plugin as the gateway would, without a gateway. A fake Host with
// an in-memory database held to the gateway's rules, a logger that records, a clock the test
// moves, and a harness that mounts the plugin's routes and calls them. Link Passerelle::testing.
#pragma once

#include "passerelle/sdk.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct sqlite3;

namespace passerelle::testing {

/// Runs `task` to its end on a private event loop and returns its value (or rethrows).
template <class T>
T run(Task<T> task) {
  boost::asio::io_context io;
  std::optional<T> value;
  std::exception_ptr error;
  auto done = [&](std::exception_ptr e, T v) {
    error = e;
    if (!e) value.emplace(std::move(v));
  };
  boost::asio::co_spawn(io, std::move(task), std::move(done));
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*value);
}

/// run() for a Task<void>.
inline void run(Task<void> task) {
  boost::asio::io_context io;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
}

/// The time the plugin sees (Host::now()); it starts at 2026-01-01T00:00:00Z and moves only
/// when the test moves it, or when the plugin sleeps.
class Clock {
 public:
  /// The current time.
  std::chrono::system_clock::time_point now() const { return now_; }
  /// Sets the current time.
  void set(std::chrono::system_clock::time_point t) { now_ = t; }
  /// Moves the time forward.
  void advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  std::chrono::system_clock::time_point now_{std::chrono::seconds(1767225600)};
};

/// A logger that keeps every line.
class RecordingLogger final : public Logger {
 public:
  /// One line the plugin wrote.
  struct Line {
    Level level;       ///< Its severity.
    std::string text;  ///< Its text.
  };
  void log(Level level, std::string_view message) override;
  /// Whether a line of at least `level` contains `text`.
  bool contains(std::string_view text, Level level = Level::debug) const;
  std::vector<Line> lines;  ///< Every line, in order.
};

/// An SQLite database in memory, held to the gateway's rules for plugins: the plugin's own
/// tables only (the gateway's own guard), numbered placeholders, one statement per query.
class MemoryDatabase final : public Database {
 public:
  /// A database for the plugin `plugin` (its tables are named `<plugin>_…`).
  explicit MemoryDatabase(const std::string& plugin);
  ~MemoryDatabase() override;
  MemoryDatabase(const MemoryDatabase&) = delete;
  MemoryDatabase& operator=(const MemoryDatabase&) = delete;

  Task<QueryResult> query(Statement statement) override;
  Task<std::vector<QueryResult>> transaction(std::vector<Statement> statements) override;
  std::string dialect() const override { return "sqlite"; }

  /// Applies the plugin's migrations (each once, in order) as the gateway does at start.
  void migrate(const std::vector<Migration>& migrations);
  /// Runs `statement` outside the plugin's confinement: for a test to look at or seed data.
  QueryResult inspect(const Statement& statement);

 private:
  QueryResult execute(const Statement& statement, bool confined);
  struct State;
  std::unique_ptr<State> state_;
};

/// Outbound HTTP: a test sets `respond`; without it, every request is a 502. Every request
/// is kept in `requests`.
class FakeHttpClient final : public HttpClient {
 public:
  Task<OutboundResponse> fetch(OutboundRequest request) override;
  /// What the fake upstream answers.
  std::function<OutboundResponse(const OutboundRequest&)> respond;
  std::vector<OutboundRequest> requests;  ///< Every request made, in order.
};

/// A mail relay that keeps what it was given; `configured = false` makes send() throw.
class RecordingMailer final : public Mailer {
 public:
  bool configured() const override { return relay; }
  Task<void> send(Mail mail) override;
  bool relay = true;       ///< Whether a relay is configured.
  std::vector<Mail> sent;  ///< Every mail sent, in order.
};

/// Counters readable by name.
class RecordingMetrics final : public Metrics {
 public:
  Counter& counter(const std::string& name, const std::string& help) override;
  /// The value of the counter `name` (0 when never created).
  double value(const std::string& name) const;

 private:
  class Value;
  std::map<std::string, std::unique_ptr<Value>> counters_;
};

/// A Host for one plugin, every service in memory. Public members let a test look and steer.
class FakeHost final : public Host {
 public:
  /// A host for the plugin `plugin`, whose (already validated) config section is `config`.
  explicit FakeHost(const std::string& plugin, boost::json::object config = {});
  ~FakeHost() override;

  const boost::json::object& config() const override { return config_; }
  Logger& logger() override { return log; }
  Database& database() override { return db; }
  HttpClient& http() override { return http_client; }
  Metrics& metrics() override { return counters; }
  std::chrono::system_clock::time_point now() const override { return clock.now(); }
  /// Returns at once, the clock moved by `duration`.
  Task<void> sleep(std::chrono::milliseconds duration) override;
  /// Runs `work` at once, on the caller's thread.
  Task<void> offload(std::function<void()> work) override;
  const Territories& territories() override;
  /// "test-token:<subject>:<audience>": a plugin test checks what was asserted, not a signature.
  std::string identity_token(const Identity& identity, const std::string& audience) override;
  /// Kept in `announcements`.
  void announce(const std::string& message) override;
  void on_announcement(std::function<Task<void>(std::string)> handler) override;
  Mailer& mail() override { return mailer; }
  Attachments& attachments() override;
  void offer(const std::string& name, Service& service) override;
  std::shared_ptr<Service> lookup(const std::string& name) override;

  /// Delivers `message` as if another instance had announced it.
  void deliver_announcement(const std::string& message);

  Clock clock;                             ///< Host::now(); sleep() moves it.
  RecordingLogger log;                     ///< Every line logged.
  MemoryDatabase db;                       ///< The plugin's tables.
  FakeHttpClient http_client;              ///< Outbound HTTP.
  RecordingMailer mailer;                  ///< Mail.
  RecordingMetrics counters;               ///< Counters.
  std::vector<std::string> announcements;  ///< What announce() was given.
  /// Services of other (pretend) plugins, by name, for lookup().
  std::map<std::string, std::shared_ptr<Service>> services;

 private:
  boost::json::object config_;
  std::function<Task<void>(std::string)> on_announcement_;
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

/// A user for call(): `role` is "elu", "agent", "advisor" or "operator"; the commune is
/// Angers (49007), with every service granted.
Identity user(const std::string& role, const std::string& commune_insee = "49007");

/// A plugin run as the gateway runs it: its config section checked against its schema
/// (unknown or missing keys throw std::invalid_argument) with defaults filled in, its
/// migrations applied, start(), its routes mounted under /api/<name>; then call() answers a
/// request as the gateway would, roles and grants checked; the destructor calls stop().
class PluginHarness {
 public:
  /// Starts `plugin` with the config section `config` (as YAML would give it, durations in
  /// milliseconds). The plugin must outlive the harness.
  explicit PluginHarness(Plugin& plugin, boost::json::object config = {});
  ~PluginHarness();
  PluginHarness(const PluginHarness&) = delete;
  PluginHarness& operator=(const PluginHarness&) = delete;

  /// The host the plugin runs in.
  FakeHost& host() { return *host_; }
  /// The plugin's routes, their paths absolute.
  const std::vector<Route>& routes() const { return routes_; }

  /// Answers `method target` (target: path and query, e.g. "/api/x/items?page=2") for
  /// `identity` (none: anonymous): 404 when no route matches, 401/403 as the gateway, an
  /// HttpError as its JSON error, anything else thrown as 500. A Route::streams_body route
  /// reads `body` from Request::body_stream; a streamed answer comes read whole into `body`.
  Response call(const std::string& method, const std::string& target, std::string body = "",
                std::optional<Identity> identity = std::nullopt);
  /// The dashboard widget for `identity`.
  std::optional<boost::json::value> widget(const Identity& identity);

 private:
  Plugin& plugin_;
  std::string name_;
  std::unique_ptr<FakeHost> host_;
  std::vector<Route> routes_;
};

}  // namespace passerelle::testing
