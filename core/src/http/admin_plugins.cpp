#include "http/admin_plugins.hpp"

#include "config/config_error.hpp"
#include "http/json_body.hpp"
#include "log/log.hpp"
#include "metrics/registry.hpp"
#include "plugins/plugin_host.hpp"
#include "util/clock.hpp"

#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <boost/json.hpp>

#include <cmath>
#include <filesystem>
#include <memory>

namespace passerelle {

namespace json = boost::json;

namespace {

// No body: no field given.
json::object body_of(const CoreRequest& r) {
  return r.in.body.empty() ? json::object() : json_object_body(r.in.body);
}

std::string text_field(const json::object& body, const char* name) {
  const json::value* v = body.if_contains(name);
  if (!v) return {};
  if (!v->is_string()) throw HttpError(422, "invalid_field", std::string(name) + ": a text");
  return std::string(v->as_string());
}

class AdminPlugins {
 public:
  AdminPlugins(PluginHost& plugins, MetricsRegistry& metrics, std::string plugin_dir,
               std::chrono::milliseconds grace, std::vector<std::string> proxy_upstreams)
      : plugins_(plugins),
        metrics_(metrics),
        dir_(std::move(plugin_dir)),
        grace_(grace),
        proxy_upstreams_(std::move(proxy_upstreams)) {}

  // Each plugin, with its last hour: requests, errors and the worst minute's p99.
  Response list(CoreRequest&) {
    const std::int64_t now = unix_seconds();
    json::array out;
    for (const auto& p : plugins_.table()->plugins) {
      std::uint64_t requests = 0, errors = 0;
      std::optional<double> p99;
      for (const auto& m : metrics_.last_hour(p->info().name, now)) {
        requests += m.requests;
        errors += m.errors;
        if (m.p99_seconds) p99 = std::max(p99.value_or(0.0), *m.p99_seconds);
      }
      json::object o{{"name", p->info().name},
                     {"version", p->info().version},
                     {"library", p->path()},
                     {"sha256", p->sha256()},
                     {"state", state_name(p->state())},
                     {"loaded_at", p->loaded_at()},
                     {"in_flight", p->in_flight.load()},
                     {"max_concurrent", p->max_concurrent},
                     {"requests", requests},
                     {"errors", errors}};
      o["p99_ms"] = p99 ? json::value(std::round(*p99 * 1e6) / 1e3) : json::value(nullptr);
      if (p->state() == LoadedPlugin::State::failed) o["failure"] = p->failure();
      out.push_back(std::move(o));
    }
    // Unrouted and still finishing requests: stopped when the last one ends.
    for (const auto& p : plugins_.retiring())
      out.push_back(json::object{{"name", p->info().name},
                                 {"version", p->info().version},
                                 {"library", p->path()},
                                 {"sha256", p->sha256()},
                                 {"state", "draining"},
                                 {"loaded_at", p->loaded_at()},
                                 {"in_flight", p->in_flight.load()}});
    return Response::json(json::object{{"plugin_dir", dir_}, {"plugins", std::move(out)}});
  }

  // A file name of the plugin directory, as a path; never anything outside it.
  // A service relayed at runtime: to an origin of the config's proxy_upstreams only, and with
  // none of the keys that only the config file may set (another service's audience, a CA file
  // read from disk, clear http, scripts on the gateway's origin).
  void check_relayed(const json::object& body) const {
    if (proxy_upstreams_.empty())
      throw HttpError(409, "no_proxy_upstreams",
                      "the config lists no proxy_upstreams: services are relayed from the config "
                      "file only");
    const json::value* c = body.if_contains("config");
    const json::value* u = c && c->is_object() ? c->as_object().if_contains("upstream") : nullptr;
    if (!u || !u->is_string()) throw HttpError(422, "invalid_field", "config.upstream: a URL");
    const std::string upstream(u->as_string());
    const bool allowed = std::any_of(
        proxy_upstreams_.begin(), proxy_upstreams_.end(), [&](const std::string& origin) {
          if (upstream.rfind(origin, 0) != 0) return false;
          const char next = upstream.size() > origin.size() ? upstream[origin.size()] : '/';
          const bool port_given = origin.find(':', origin.find("//") + 2) != std::string::npos;
          return next == '/' || (next == ':' && !port_given);
        });
    if (!allowed)
      throw HttpError(422, "upstream_not_allowed",
                      "config.upstream: not an origin of the config's proxy_upstreams");
    for (const char* key : {"audience", "ca_file", "allow_http", "allow_scripts"})
      if (c->as_object().contains(key))
        throw HttpError(422, "invalid_field",
                        std::string("config.") + key + ": set in the config file only");
  }

  std::string library_in_dir(const std::string& file) const {
    if (dir_.empty())
      throw HttpError(409, "no_plugin_dir",
                      "no plugin_dir in the config: libraries cannot be loaded at runtime");
    if (file.empty() || file.size() > 200 || file[0] == '.' ||
        file.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
            std::string::npos ||
        file.size() < 4 || file.compare(file.size() - 3, 3, ".so") != 0)
      throw HttpError(422, "invalid_field", "library: a file name of the plugin directory (.so)");
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::canonical(dir_, ec);
    const fs::path path = fs::weakly_canonical(fs::path(dir_) / file, ec);
    // A link that leads out of the directory is refused like a path.
    const auto rel = path.lexically_relative(dir);
    if (ec || rel.empty() || *rel.begin() == "..")
      throw HttpError(422, "invalid_field", "library: not in the plugin directory");
    return path.string();
  }

  static void audit(const CoreRequest& r, const char* action, const std::string& name,
                    const std::string& detail) {
    log::info("audit", action,
              {{"actor", r.caller().identity.subject},
               {"plugin", name},
               {"detail", detail},
               {"request_id", r.in.request_id}});
  }

  // Runs a change and audits it, refused too (with the reason). Done, the detail names the
  // library running now and its SHA-256.
  Task<void> audited(const CoreRequest& r, const char* action, std::string name, std::string detail,
                     Task<void> change) {
    std::exception_ptr refused;
    try {
      co_await std::move(change);
    } catch (const HttpError& e) {
      refused = std::current_exception();
      audit(r, (std::string(action) + " (refused)").c_str(), name, detail + ": " + e.what());
    }
    if (refused) std::rethrow_exception(refused);
    for (const auto& p : plugins_.table()->plugins)
      if (p->info().name == name) detail += " sha256=" + p->sha256() + " v" + p->info().version;
    audit(r, action, name, detail);
  }

  // The plugin as it is now, for the answers of the changes.
  Response one(const std::string& name, int status) {
    for (const auto& p : plugins_.table()->plugins)
      if (p->info().name == name)
        return Response::json(json::object{{"name", name},
                                           {"version", p->info().version},
                                           {"library", p->path()},
                                           {"sha256", p->sha256()},
                                           {"state", state_name(p->state())},
                                           {"loaded_at", p->loaded_at()}},
                              status);
    Response gone;
    gone.status = 204;
    return gone;
  }

  // POST /admin/plugins {name, library | kind: "proxy", config, timeout_ms, max_concurrent}
  Task<Response> add(CoreRequest r) {
    const json::object body = body_of(r);
    PluginConfig pc;
    pc.name = text_field(body, "name");
    if (pc.name.empty() || pc.name.size() > 64 ||
        pc.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos)
      throw HttpError(422, "invalid_field", "name: lower-case letters, digits, '-' or '_'");
    const std::string kind = text_field(body, "kind");
    if (kind == "proxy") {
      pc.kind = kind;
      pc.library = "proxy";
      if (!text_field(body, "library").empty())
        throw HttpError(422, "invalid_field", "library: a proxied service has none");
      check_relayed(body);
    } else if (kind.empty() || kind == "library") {
      pc.library = library_in_dir(text_field(body, "library"));
    } else {
      throw HttpError(422, "invalid_field", "kind: library or proxy");
    }
    if (const json::value* c = body.if_contains("config")) {
      if (!c->is_object()) throw HttpError(422, "invalid_field", "config: an object");
      // JSON is YAML: the section is checked against the plugin's schema as a file's would be.
      pc.config = YAML::Load(json::serialize(*c));
    }
    if (const json::value* t = body.if_contains("timeout_ms")) {
      if (!t->is_int64() || t->as_int64() < 1 || t->as_int64() > 600'000)
        throw HttpError(422, "invalid_field", "timeout_ms: 1 to 600000");
      pc.timeout = std::chrono::milliseconds(t->as_int64());
    }
    if (const json::value* m = body.if_contains("max_concurrent")) {
      if (!m->is_int64() || m->as_int64() < 1 || m->as_int64() > 1'000'000)
        throw HttpError(422, "invalid_field", "max_concurrent: 1 to 1000000");
      pc.max_concurrent = static_cast<int>(m->as_int64());
    }
    const std::string name = pc.name, library = pc.library;
    Task<void> change = plugins_.add(std::move(pc));  // named: no temporary in a co_await
    co_await audited(r, "plugin added", name, library, std::move(change));
    co_return one(name, 201);
  }

  // POST /admin/plugins/{name}/reload {library?}: the upgrade.
  Task<Response> reload(CoreRequest r) {
    const std::string name = r.path_params.at("name");
    const json::object body = body_of(r);
    const std::string file = text_field(body, "library");
    std::string library = file.empty() ? std::string() : library_in_dir(file);
    std::string detail = library.empty() ? std::string("same library") : library;
    Task<void> change = plugins_.reload(name, library, grace_);
    co_await audited(r, "plugin reloaded", name, std::move(detail), std::move(change));
    co_return one(name, 200);
  }

  // DELETE /admin/plugins/{name}
  Task<Response> remove(CoreRequest r) {
    const std::string name = r.path_params.at("name");
    Task<void> change = plugins_.remove(name, grace_);
    std::string detail;
    co_await audited(r, "plugin removed", name, std::move(detail), std::move(change));
    Response gone;
    gone.status = 204;
    co_return gone;
  }

 private:
  PluginHost& plugins_;
  MetricsRegistry& metrics_;
  std::string dir_;
  std::chrono::milliseconds grace_;
  std::vector<std::string> proxy_upstreams_;
};

}  // namespace

std::vector<CoreRoute> admin_plugin_routes(PluginHost& plugins, MetricsRegistry& metrics,
                                           std::string plugin_dir, std::chrono::milliseconds grace,
                                           std::function<Task<boost::json::object>()> reload_config,
                                           std::vector<std::string> proxy_upstreams) {
  auto admin = std::make_shared<AdminPlugins>(plugins, metrics, std::move(plugin_dir), grace,
                                              std::move(proxy_upstreams));
  const std::vector<std::string> operators{"operator"};
  // A change waits for the old plugin's requests to end: its deadline leaves room for that.
  const auto deadline = grace + std::chrono::seconds(30);
  std::vector<CoreRoute> routes;
  routes.push_back(
      {{.method = "GET", .path = "/admin/plugins", .roles = operators, .immediate = true},
       {},
       [admin](CoreRequest& r) { return admin->list(r); }});
  routes.push_back(
      {{.method = "POST", .path = "/admin/plugins", .roles = operators, .deadline = deadline},
       [admin](CoreRequest r) { return admin->add(std::move(r)); }});
  routes.push_back({{.method = "POST",
                     .path = "/admin/plugins/{name}/reload",
                     .roles = operators,
                     .deadline = deadline},
                    [admin](CoreRequest r) { return admin->reload(std::move(r)); }});
  routes.push_back({{.method = "DELETE",
                     .path = "/admin/plugins/{name}",
                     .roles = operators,
                     .deadline = deadline},
                    [admin](CoreRequest r) { return admin->remove(std::move(r)); }});
  if (reload_config)
    routes.push_back(
        {{.method = "POST", .path = "/admin/reload", .roles = operators, .deadline = deadline},
         [reload_config](CoreRequest r) -> Task<Response> {
           json::object done;
           try {
             done = co_await reload_config();
           } catch (const ConfigError& e) {
             // The running config stays; the message names FILE:LINE:COL.
             throw HttpError(422, "invalid_config", e.what());
           }
           AdminPlugins::audit(r, "config reloaded", "*", json::serialize(done));
           co_return Response::json(done);
         }});
  return routes;
}

}  // namespace passerelle
