// Everything the host hands to a plugin, one header per service: logger, database, outbound
// HTTP, mail, attachments, metrics, services between plugins, time and blocking work.
#pragma once

#include "passerelle/attachments.hpp"
#include "passerelle/database.hpp"
#include "passerelle/export.hpp"
#include "passerelle/http_client.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/logger.hpp"
#include "passerelle/mail.hpp"
#include "passerelle/metrics.hpp"
#include "passerelle/service.hpp"
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
#include <type_traits>
#include <utility>

namespace passerelle {

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
  /// The time now. Take the time from here rather than from the system clock, so that the
  /// test kit's clock (passerelle/testing.hpp) can move it.
  virtual std::chrono::system_clock::time_point now() const = 0;
  /// Seconds since the epoch, as the portable SQL of Database stores times.
  std::int64_t epoch_seconds() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
  }
  /// Waits without holding a thread; cancelled when the request's deadline passes.
  virtual Task<void> sleep(std::chrono::milliseconds duration) = 0;
  /// Runs blocking work (reading a file, heavy computation) on the host's blocking pool, never
  /// on an I/O thread; exceptions are rethrown to the caller. Name the function object before
  /// the co_await (g++ 12 destroys a lambda written inside a co_await expression twice).
  virtual Task<void> offload(std::function<void()> work) = 0;
  /// offload() for work that computes a value: `std::string text = co_await
  /// host.offload_value(read_file);`. The value is moved back to the caller.
  template <class F, class R = std::invoke_result_t<F&>>
  requires(!std::is_void_v<R>) Task<R> offload_value(F work) {
    std::optional<R> result;
    std::function<void()> run = [&result, &work] { result.emplace(work()); };
    co_await offload(std::move(run));
    co_return std::move(*result);
  }
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
