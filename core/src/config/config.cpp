// Reads passerelle.yaml into Config; every error names file:line:col.
#include "config/config.hpp"

#include "auth/roles.hpp"
#include "config/yaml_section.hpp"
#include "util/ip_address.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
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
  l.max_connections_per_address =
      s.integer("max_connections_per_address", l.max_connections_per_address, 1, 1'000'000);
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
  c.public_url = s.string("public_url", c.public_url);
  if (!c.public_url.empty() &&
      (c.public_url.rfind("https://", 0) != 0 || c.public_url.back() == '/'))
    s.fail("public_url", "must be https://host[:port] without a trailing /");
  c.workers = s.integer("workers", 0, 0, 256);
  if (c.workers == 0) c.workers = std::max(1u, std::thread::hardware_concurrency());
  c.handler_timeout = s.duration("handler_timeout", c.handler_timeout);
  c.shutdown_grace = s.duration("shutdown_grace", c.shutdown_grace);
  c.plugin_stop_timeout = s.duration("plugin_stop_timeout", c.plugin_stop_timeout);
  c.heap_trim_interval = s.duration("heap_trim_interval", c.heap_trim_interval);
  for (const auto& scraper : s.string_list("metrics_from")) {
    const std::string address = canonical_address(scraper);
    if (address.empty()) s.fail("metrics_from", "\"" + scraper + "\" is not an IP address");
    c.metrics_from.push_back(address);
  }
  for (const auto& proxy : s.string_list("trusted_proxies")) {
    const std::string address = canonical_address(proxy);
    if (address.empty())
      s.fail("trusted_proxies",
             "\"" + proxy + "\" is not an IP address (a network is not allowed)");
    c.trusted_proxies.push_back(address);
  }
  c.limits = read_limits(s.section("limits"));
  s.finish();
  return c;
}

PluginConfig read_plugin(YamlSection s, const std::string& base_dir) {
  PluginConfig p;
  p.position = s.node();
  p.name = s.required_string("name");
  for (char ch : p.name) {
    if (!(std::islower(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-'))
      s.fail("name", "must be lower-case letters, digits, '-' or '_'");
  }
  p.kind = s.string("kind", p.kind);
  if (p.kind == "proxy") {
    if (s.has("library")) s.fail("library", "a proxied service (kind: proxy) has no library");
    p.library = "proxy";
  } else if (p.kind == "library") {
    p.library = resolve(base_dir, s.required_string("library"));
  } else {
    s.fail("kind", "must be library or proxy");
  }
  p.timeout = s.duration("timeout", p.timeout);
  p.max_concurrent = static_cast<int>(s.integer("max_concurrent", p.max_concurrent, 1, 1'000'000));
  p.required = s.boolean("required", p.required);
  YamlSection routes = s.section("route_timeouts");
  if (routes.node().IsMap()) {
    for (const auto& kv : routes.node()) {
      const std::string key = kv.first.Scalar();
      p.route_timeouts[key] = routes.duration(key, {});
    }
  }
  p.config = s.raw("config");
  if (p.config.IsDefined() && !p.config.IsNull() && !p.config.IsMap())
    s.fail("config", "expected a mapping");
  s.finish();
  return p;
}

const std::set<std::string> kIdentityFields = {"email",        "given_name", "family_name",
                                               "display_name", "siret",      "commune_insee"};
const std::set<std::string> kAlgorithms = {"RS256", "PS256", "ES256"};

std::vector<std::string> read_roles(YamlSection& s, const std::string& key) {
  auto roles = s.string_list(key);
  for (const auto& r : roles)
    if (!is_known_role(r))
      s.fail(key, "unknown role \"" + r + "\" (elu, agent, advisor, operator)");
  return roles;
}

OidcProviderConfig read_oidc(YamlSection s, const std::string& base_dir) {
  OidcProviderConfig p;
  p.name = s.required_string("name");
  for (char ch : p.name)
    if (!(std::islower(static_cast<unsigned char>(ch)) ||
          std::isdigit(static_cast<unsigned char>(ch)) || ch == '-'))
      s.fail("name", "must be lower-case letters, digits or '-'");
  p.display_name = s.string("display_name", p.name);
  p.issuer = s.required_string("issuer");
  bool loopback =
      p.issuer.rfind("http://127.0.0.1:", 0) == 0 || p.issuer.rfind("http://localhost:", 0) == 0;
  if (loopback) {
    // Only a port may follow: "http://127.0.0.1:@elsewhere.example" names another host.
    const std::string rest = p.issuer.substr(p.issuer.find(':', 5) + 1);
    const std::string port = rest.substr(0, rest.find_first_of("/?#"));
    loopback = !port.empty() && port.find_first_not_of("0123456789") == std::string::npos;
  }
  if (p.issuer.rfind("https://", 0) != 0 && !loopback)
    s.fail("issuer", "must be an https:// URL (http only on 127.0.0.1, for tests)");
  p.client_id = s.required_string("client_id");
  p.client_secret = s.required_string("client_secret");
  p.client_auth = s.string("client_auth", p.client_auth);
  if (p.client_auth != "client_secret_basic" && p.client_auth != "client_secret_post")
    s.fail("client_auth", "must be client_secret_basic or client_secret_post");
  if (s.has("scopes")) p.scopes = s.string_list("scopes");
  if (std::find(p.scopes.begin(), p.scopes.end(), "openid") == p.scopes.end())
    s.fail("scopes", "must include openid");
  p.userinfo = s.boolean("userinfo", p.userinfo);
  YamlSection claims = s.section("claims");
  if (claims.node().IsMap()) {
    for (const auto& kv : claims.node()) {
      const std::string field = kv.first.Scalar();
      if (!kIdentityFields.count(field))
        fail_at(s.file(), kv.first,
                "unknown identity field \"" + field +
                    "\" (email, given_name, family_name, display_name, siret, commune_insee)");
      p.claims[field] = claims.string(field, "");
    }
  }
  for (auto& rule : s.sections("roles")) {
    OidcRoleRule r;
    r.role = rule.required_string("role");
    if (!is_known_role(r.role)) rule.fail("role", "unknown role \"" + r.role + "\"");
    r.email_domain = rule.string("email_domain", "");
    r.siret_prefix = rule.string("siret_prefix", "");
    r.claim = rule.string("claim", "");
    r.equals = rule.string("equals", "");
    const int conditions = !r.email_domain.empty() + !r.siret_prefix.empty() + !r.claim.empty();
    if (conditions != 1)
      rule.fail("role", "a rule needs exactly one of email_domain, siret_prefix, claim");
    if (!r.claim.empty() && r.equals.empty()) rule.fail("claim", "a claim rule needs equals");
    rule.finish();
    p.roles.push_back(std::move(r));
  }
  p.default_roles = read_roles(s, "default_roles");
  p.verified_emails = s.boolean("verified_emails", false);
  if (s.has("algorithms")) {
    p.algorithms = s.string_list("algorithms");
    for (const auto& a : p.algorithms)
      if (!kAlgorithms.count(a)) s.fail("algorithms", "only RS256, PS256 and ES256 are accepted");
  }
  s.finish();
  return p;
}

AuthConfig read_auth(YamlSection s, const std::string& base_dir, const std::string& store_path) {
  AuthConfig a;
  a.session_idle_timeout = s.duration("session_idle_timeout", a.session_idle_timeout);
  a.session_absolute_timeout = s.duration("session_absolute_timeout", a.session_absolute_timeout);
  a.max_failures_per_account =
      s.integer("max_failures_per_account", a.max_failures_per_account, 1, 1000);
  a.max_failures_per_address =
      s.integer("max_failures_per_address", a.max_failures_per_address, 1, 100000);
  a.failure_window = s.duration("failure_window", a.failure_window);
  a.throttle_ipv4_prefix = s.integer("throttle_ipv4_prefix", a.throttle_ipv4_prefix, 24, 32);
  if (a.throttle_ipv4_prefix != 24 && a.throttle_ipv4_prefix != 32)
    s.fail("throttle_ipv4_prefix", "must be 32 (one address) or 24");
  a.max_pending_password_checks =
      s.integer("max_pending_password_checks", a.max_pending_password_checks, 1, 100000);
  {
    YamlSection cache = s.section("session_cache");
    a.session_cache_max_entries = static_cast<std::size_t>(cache.integer(
        "max_entries", static_cast<std::int64_t>(a.session_cache_max_entries), 0, 10'000'000));
    a.session_cache_ttl = cache.duration("ttl", a.session_cache_ttl);
    // Longer would leave a change made by the admin CLI unseen for too long.
    if (a.session_cache_ttl > milliseconds(60'000)) cache.fail("ttl", "must be 60s at most");
    cache.finish();
  }
  // The key sits outside the database, by default in the same folder: a copy of the database
  // file alone then holds no usable secret.
  const std::string default_key = (fs::path(store_path).parent_path() / "secret.key").string();
  a.secret_key_file = resolve(base_dir, s.string("secret_key_file", default_key));
  a.secret_key = s.string("secret_key", "");
  if (s.has("secret_key") && s.has("secret_key_file"))
    s.fail("secret_key", "give secret_key or secret_key_file, not both");
  std::set<std::string> names;
  for (auto& entry : s.sections("oidc")) {
    const YAML::Node position = entry.node();
    auto p = read_oidc(std::move(entry), base_dir);
    if (!names.insert(p.name).second)
      fail_at(s.file(), position, "OIDC provider \"" + p.name + "\" is listed twice");
    a.oidc.push_back(std::move(p));
  }
  s.finish();
  return a;
}

// Page paths are plain literal paths: no parameter, no dot segment, and none under a prefix
// that the gateway or its plugins answer (an API path must stay a JSON 404 when unknown).
WebConfig read_web(YamlSection s, const std::string& base_dir) {
  WebConfig w;
  w.root = resolve(base_dir, s.string("root", "../web/dist"));
  if (s.has("pages")) w.pages = s.string_list("pages");
  std::set<std::string> seen;
  for (const auto& page : w.pages) {
    const bool plain =
        !page.empty() && page[0] == '/' && (page.size() == 1 || page.back() != '/') &&
        page.find("//") == std::string::npos && page.find("/.") == std::string::npos &&
        std::all_of(page.begin(), page.end(), [](unsigned char ch) {
          return std::isalnum(ch) || ch == '/' || ch == '-' || ch == '_' || ch == '.';
        });
    if (!plain) s.fail("pages", "\"" + page + "\" is not a plain path such as /mon-compte");
    for (const char* reserved : {"/api", "/auth", "/admin", "/assets", "/.well-known"})
      if (page == reserved || page.rfind(std::string(reserved) + "/", 0) == 0)
        s.fail("pages", "\"" + page + "\" lies under " + reserved + ", which the gateway answers");
    if (!seen.insert(page).second) s.fail("pages", "\"" + page + "\" is listed twice");
  }
  s.finish();
  return w;
}

}  // namespace

const std::vector<std::string>& default_attachment_types() {
  static const std::vector<std::string> kTypes = {
      "application/pdf",
      "image/png",
      "image/jpeg",
      "image/gif",
      "image/webp",
      "application/msword",
      "application/vnd.ms-excel",
      "application/vnd.ms-powerpoint",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "application/vnd.openxmlformats-officedocument.presentationml.presentation",
      "application/vnd.oasis.opendocument.text",
      "application/vnd.oasis.opendocument.spreadsheet",
      "application/vnd.oasis.opendocument.presentation",
  };
  return kTypes;
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, 1, 1, "cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return load_config_text(text.str(), path);
}

Config load_config_text(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
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
  c.store.statement_cache = store.integer("statement_cache", c.store.statement_cache, 0, 10'000);
  c.store.cache_mib = store.integer("cache_mib", c.store.cache_mib, 1, 4096);
  c.store.mmap_mib = store.integer("mmap_mib", c.store.mmap_mib, 0, 65'536);
  if (store.has("postgresql")) {
    if (store.has("sqlite"))
      fail_at(store.file(), store.raw("postgresql"),
              "store: give either sqlite or postgresql, not both");
    YamlSection pg = store.section("postgresql");
    PostgresConfig p;
    p.url = pg.required_string("url");
    if (p.url.rfind("postgresql://", 0) != 0 && p.url.rfind("postgres://", 0) != 0)
      fail_at(pg.file(), pg.raw("url"), "store.postgresql.url: expected postgresql://...");
    p.connections = static_cast<unsigned>(pg.integer("connections", p.connections, 1, 200));
    p.connect_timeout = pg.duration("connect_timeout", p.connect_timeout);
    p.statement_timeout = pg.duration("statement_timeout", p.statement_timeout);
    pg.finish();
    c.store.postgresql = std::move(p);
  }
  store.finish();

  YamlSection log = top.section("log");
  c.log.level = log.string("level", c.log.level);
  static const std::set<std::string> kLevels = {"debug", "info", "warn", "error"};
  if (!kLevels.count(c.log.level)) log.fail("level", "must be debug, info, warn or error");
  c.log.access_log = log.boolean("access_log", c.log.access_log);
  c.log.access_log_buffer = static_cast<std::size_t>(log.integer(
      "access_log_buffer", static_cast<std::int64_t>(c.log.access_log_buffer), 4096, 16 << 20));
  c.log.access_log_flush = log.duration("access_log_flush", c.log.access_log_flush);
  if (c.log.access_log_flush < milliseconds(10) || c.log.access_log_flush > milliseconds(60'000))
    log.fail("access_log_flush", "must be between 10ms and 60s");
  log.finish();

  YamlSection outbound = top.section("outbound");
  c.outbound.ca_file = resolve(base_dir, outbound.string("ca_file", ""));
  outbound.finish();

  YamlSection mail = top.section("mail");
  c.mail.relay = mail.string("relay", "");
  if (!c.mail.relay.empty() && c.mail.relay.rfind("smtp://", 0) != 0 &&
      c.mail.relay.rfind("smtps://", 0) != 0)
    mail.fail("relay", "expected smtp://host:port (STARTTLS) or smtps://host:port");
  c.mail.from = mail.string("from", "");
  if (!c.mail.relay.empty() && c.mail.from.find('@') == std::string::npos)
    mail.fail("from", "the sender's address is required with a relay");
  if (c.mail.from.find_first_of("\r\n") != std::string::npos) mail.fail("from", "one line");
  c.mail.starttls = mail.boolean("starttls", true);
  c.mail.username = mail.string("username", "");
  if (!c.mail.starttls && c.mail.relay.rfind("smtp://", 0) == 0) {
    // Plain SMTP: only to a relay on this machine (credentials and mail would cross the
    // network in clear otherwise).
    const std::string host = c.mail.relay.substr(7, c.mail.relay.find_first_of(":/", 7) - 7);
    if (host != "127.0.0.1" && host != "localhost" && host != "[::1]")
      mail.fail("starttls", "false only for a relay on loopback (127.0.0.1, localhost, [::1])");
  }
  const std::string password_file = mail.string("password_file", "");
  c.mail.password_file = password_file.empty() ? "" : resolve(base_dir, password_file);
  c.mail.timeout = mail.duration("timeout", c.mail.timeout);
  if (c.mail.timeout < milliseconds(1000) || c.mail.timeout > milliseconds(120'000))
    mail.fail("timeout", "must be between 1s and 120s");
  mail.finish();

  YamlSection attachments = top.section("attachments");
  auto& files = c.attachments;
  files.dir = resolve(
      base_dir,
      attachments.string(
          "dir", (std::filesystem::path(c.store.sqlite).parent_path() / "attachments").string()));
  files.max_bytes = static_cast<std::uint64_t>(attachments.integer(
      "max_bytes", static_cast<std::int64_t>(files.max_bytes), 1024, 1LL << 32));
  files.max_files = static_cast<std::size_t>(
      attachments.integer("max_files", static_cast<std::int64_t>(files.max_files), 1, 100));
  files.types =
      attachments.has("types") ? attachments.string_list("types") : default_attachment_types();
  for (const auto& type : files.types)
    if (type.find('/') == std::string::npos || type.find_first_of(" ;,\r\n") != std::string::npos)
      attachments.fail("types", "expected media types such as application/pdf");
  files.clamd = attachments.string("clamd", "");
  files.clamd_timeout = attachments.duration("clamd_timeout", files.clamd_timeout);
  if (files.clamd_timeout < milliseconds(1000) || files.clamd_timeout > milliseconds(300'000))
    attachments.fail("clamd_timeout", "must be between 1s and 5min");
  files.upload_timeout = attachments.duration("upload_timeout", files.upload_timeout);
  if (files.upload_timeout < milliseconds(1000) || files.upload_timeout > milliseconds(3'600'000))
    attachments.fail("upload_timeout", "must be between 1s and 1h");
  attachments.finish();

  c.auth = read_auth(top.section("auth"), base_dir, c.store.sqlite);
  c.web = read_web(top.section("web"), base_dir);

  if (top.has("plugin_dir")) c.plugin_dir = resolve(base_dir, top.string("plugin_dir", ""));
  c.proxy_upstreams = top.string_list("proxy_upstreams");
  for (const auto& origin : c.proxy_upstreams)
    if ((origin.rfind("https://", 0) != 0 && origin.rfind("http://", 0) != 0) ||
        origin.find('/', origin.find("//") + 2) != std::string::npos)
      top.fail("proxy_upstreams",
               "\"" + origin + "\": an origin, http(s)://host[:port] without a path");
  std::set<std::string> names;
  for (auto& entry : top.sections("plugins")) {
    PluginConfig p = read_plugin(entry, base_dir);
    p.file = path;
    if (!names.insert(p.name).second)
      fail_at(path, p.position, "plugin \"" + p.name + "\" is listed twice");
    c.plugins.push_back(std::move(p));
  }
  top.finish();

  if (c.demo && c.server.listen != "127.0.0.1" && c.server.listen != "::1" &&
      c.server.listen != "localhost")
    top.fail("server", "demo mode listens on loopback only (127.0.0.1 or ::1)");
  return c;
}

}  // namespace passerelle
