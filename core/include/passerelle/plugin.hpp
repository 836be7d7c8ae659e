// What a plugin is: its description, routes, migrations, config schema and dashboard widget.
#pragma once

#include "passerelle/config.hpp"
#include "passerelle/export.hpp"
#include "passerelle/host.hpp"
#include "passerelle/http.hpp"
#include "passerelle/identity.hpp"
#include "passerelle/task.hpp"
#include "passerelle/version.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

/// Name, version and description shown at /api/plugins.
struct PluginInfo {
  std::string name;         ///< Lower-case identifier, also the prefix of its routes /api/<name>.
  std::string version;      ///< Semantic version of the plugin.
  std::string description;  ///< One sentence for operators.
};

/// A route handler. It owns its Request; it may outlive the client's connection.
using Handler = std::function<Task<Response>(Request)>;

/// One route. `path` is a template relative to the plugin's mount `/api/<name>`: "items/{id}"
/// is /api/<name>/items/{id}, "" the mount itself; a path that starts with '/' is taken as
/// written and must be under the mount. Before the handler runs, the
/// host applies what it applies to its own routes: authentication, `roles`, CSRF for cookie
/// sessions, `accepts`, and the deadline of the plugin's config. A GET route answers HEAD too
/// (Request::method is then "HEAD" and the body is not sent).
struct Route {
  std::string method;              ///< "GET", "POST", "PUT", "PATCH" or "DELETE".
  std::string path;                ///< Path template, relative to /api/<plugin name>.
  std::vector<std::string> roles;  ///< Roles allowed; empty = public; {"*"} = any logged-in user.
  Handler handler;                 ///< The coroutine that answers.
  /// Media types accepted for a request body; a body of another type gets 415. {"*/*"}: any.
  std::vector<std::string> accepts = {"application/json"};
  /// The handler answers from memory and never waits (no store, no network, no timer): the
  /// host then calls it inline, without the coroutine and timer that race a handler against
  /// its deadline (a third of the cost of such a route). A handler marked so that waits anyway
  /// has no deadline: mark only what cannot wait.
  bool immediate = false;
  /// The handler bounds every wait itself, with its own timeout on each network read and write
  /// (as the proxy does): the host then awaits it inline, without the coroutine and timer that
  /// race it against its deadline. One so marked that waits without a bound holds its caller
  /// until it ends.
  bool bounded = false;
  /// The body is a multipart/form-data upload (a POST): the host checks the caller first, then
  /// streams the files to disk (config `attachments:` gives the size, types and scan), and the
  /// handler gets Request::form and Request::files. `accepts` is then ignored.
  bool uploads = false;
  /// For an upload route: run after the caller's role is checked and before a byte of the body
  /// is read, with the request as the handler will get it but without body, form or files.
  /// Throw HttpError to refuse (the record is not the caller's to see: 404; it is full: 413);
  /// nothing is then received. Under the route's deadline.
  std::function<Task<void>(Request)> before_upload = {};
  /// The handler reads the body as it comes, from Request::body_stream, within
  /// `max_body_bytes` (and the server's body_timeout per read), rather than receiving it whole;
  /// any media type is then accepted. For a body too large to hold in memory (a proxy's).
  bool streams_body = false;
  /// A streamed body's limit in bytes (413 past it); 0: the server's limits.body_bytes.
  std::uint64_t max_body_bytes = 0;
  /// For a route that requires a role: élus and agents are admitted only when their current
  /// organisation grants them this plugin (Identity::may_use), else 403. False for what is not
  /// the service itself (public reference data shown to every logged-in user).
  bool needs_grant = true;
};

/// A schema migration of the plugin's own tables, applied once, in version order, in a
/// transaction, under the rules of Database (own tables only, portable SQL). Migrations are
/// append-only: once released, a migration's text never changes; fix or convert in a new one.
struct Migration {
  int version;      ///< 1, 2, 3 ... per plugin.
  std::string sql;  ///< One or more portable SQL statements, for every dialect not listed below.
  /// Text for one dialect ("sqlite", "postgresql", as Database::dialect() says) where it must
  /// differ: auto-generated ids, full-text search, converting data. An empty text means "nothing
  /// to do in this dialect" (the version is still recorded).
  std::map<std::string, std::string> sql_by_dialect = {};
};

/// A service plugin. The host calls, in order: info(), config_schema(), migrations(), start(),
/// routes(); then handlers and widget() concurrently; finally stop() once every request ended.
class PASSERELLE_SDK_API Plugin {
 public:
  virtual ~Plugin() = default;
  /// Name, version, description.
  virtual PluginInfo info() const = 0;
  /// Keys accepted in the plugin's config section.
  virtual std::vector<ConfigField> config_schema() const { return {}; }
  /// Schema migrations of the plugin's own tables, named `<name>_…` (see Database).
  virtual std::vector<Migration> migrations() const { return {}; }
  /// Reads the config and prepares; the host outlives the plugin.
  virtual Task<void> start(Host& host) = 0;
  /// The routes; called once after start().
  virtual std::vector<Route> routes() = 0;
  /// The dashboard widget for one user: JSON, or nothing to show.
  virtual Task<std::optional<boost::json::value>> widget(Identity identity) {
    co_return std::nullopt;
  }
  /// Whether widget() answers from memory and never waits, as Route::immediate: the
  /// dashboard then calls it inline rather than racing it against its deadline.
  virtual bool widget_immediate() const { return false; }
  /// Releases resources before unloading.
  virtual Task<void> stop() { co_return; }
};

/// The absolute path of a route of `plugin`: `path` under the mount /api/<plugin> unless it
/// starts with '/' ("items/{id}" -> "/api/hello/items/{id}", "" -> "/api/hello").
inline std::string route_path(const std::string& plugin, const std::string& path) {
  if (!path.empty() && path.front() == '/') return path;
  std::string mount = "/api/" + plugin;
  if (!path.empty()) mount += "/" + path;
  return mount;
}

/// Signature of the factory every plugin exports as `passerelle_create_plugin`.
using PluginFactory = std::unique_ptr<Plugin>();

}  // namespace passerelle
