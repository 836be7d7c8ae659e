// Reads passerelle.yaml into Config; every error names file:line:col.
#include "config/config.hpp"

#include "config/yaml_section.hpp"

#include <filesystem>
#include <set>
#include <thread>

namespace passerelle {
namespace {

namespace fs = std::filesystem;

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

LimitsConfig read_limits(YamlSection s) {
  LimitsConfig l;
  l.header_bytes = s.integer("header_bytes", l.header_bytes, 1024, 1024 * 1024);
  l.body_bytes = s.integer("body_bytes", l.body_bytes, 0, 1024LL * 1024 * 1024);
  l.header_timeout = s.duration("header_timeout", l.header_timeout);
  l.body_timeout = s.duration("body_timeout", l.body_timeout);
  l.idle_timeout = s.duration("idle_timeout", l.idle_timeout);
  l.write_timeout = s.duration("write_timeout", l.write_timeout);
  l.handshake_timeout = s.duration("handshake_timeout", l.handshake_timeout);
  l.max_connections = s.integer("max_connections", l.max_connections, 1, 1'000'000);
  s.finish();
  return l;
}

ServerConfig read_server(YamlSection s) {
  ServerConfig c;
  c.listen = s.string("listen", c.listen);
  c.https_port = s.integer("https_port", c.https_port, 0, 65535);
  c.http_port = s.integer("http_port", c.http_port, 0, 65535);
  c.redirect_http = s.boolean("redirect_http", c.redirect_http);
  c.public_host = s.string("public_host", c.public_host);
  c.workers = s.integer("workers", 0, 0, 256);
  if (c.workers == 0) c.workers = std::max(1u, std::thread::hardware_concurrency());
  c.handler_timeout = s.duration("handler_timeout", c.handler_timeout);
  c.shutdown_grace = s.duration("shutdown_grace", c.shutdown_grace);
  c.limits = read_limits(s.section("limits"));
  s.finish();
  return c;
}

PluginConfig read_plugin(YamlSection s, const std::string& base_dir) {
  PluginConfig p;
  p.position = s.node();
  p.name = s.required_string("name");
  for (char ch : p.name) {
    if (!(std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-'))
      s.fail("name", "must be lower-case letters, digits, '-' or '_'");
  }
  p.library = resolve(base_dir, s.required_string("library"));
  p.timeout = s.duration("timeout", p.timeout);
  YamlSection routes = s.section("route_timeouts");
  if (routes.node().IsMap()) {
    for (const auto& kv : routes.node()) {
      const std::string key = kv.first.Scalar();
      p.route_timeouts[key] = routes.duration(key, {});
    }
  }
  p.config = s.raw("config");
  if (p.config.IsDefined() && !p.config.IsNull() && !p.config.IsMap()) s.fail("config", "expected a mapping");
  s.finish();
  return p;
}

}  // namespace

Config load_config(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError(path, 1, 1, "cannot read the file");
  } catch (const YAML::ParserException& e) {
    throw ConfigError(path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  const std::string base_dir = fs::absolute(path).parent_path().string();
  YamlSection top(root, path);
  if (!root.IsMap()) fail_at(path, root, "expected a mapping at the top level");

  Config c;
  c.file = path;
  c.demo = top.boolean("demo", false);
  c.server = read_server(top.section("server"));

  YamlSection tls = top.section("tls");
  c.tls.certificate = resolve(base_dir, tls.required_string("certificate"));
  c.tls.private_key = resolve(base_dir, tls.required_string("private_key"));
  tls.finish();

  YamlSection store = top.section("store");
  c.store.sqlite = resolve(base_dir, store.string("sqlite", c.store.sqlite));
  c.store.threads = store.integer("threads", c.store.threads, 1, 64);
  store.finish();

  YamlSection log = top.section("log");
  c.log.level = log.string("level", c.log.level);
  static const std::set<std::string> kLevels = {"debug", "info", "warn", "error"};
  if (!kLevels.count(c.log.level)) log.fail("level", "must be debug, info, warn or error");
  c.log.access_log = log.boolean("access_log", c.log.access_log);
  log.finish();

  YamlSection outbound = top.section("outbound");
  c.outbound.ca_file = resolve(base_dir, outbound.string("ca_file", ""));
  outbound.finish();

  std::set<std::string> names;
  for (auto& entry : top.sections("plugins")) {
    PluginConfig p = read_plugin(entry, base_dir);
    if (!names.insert(p.name).second) fail_at(path, p.position, "plugin \"" + p.name + "\" is listed twice");
    c.plugins.push_back(std::move(p));
  }
  top.finish();

  if (c.demo && c.server.listen != "127.0.0.1" && c.server.listen != "::1" &&
      c.server.listen != "localhost")
    top.fail("server", "demo mode listens on loopback only (127.0.0.1 or ::1)");
  return c;
}

}  // namespace passerelle
