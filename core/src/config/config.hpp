// The gateway's typed configuration, read once from YAML at start-up.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

using std::chrono::milliseconds;

struct LimitsConfig {
  std::size_t header_bytes = 8 * 1024;
  std::size_t body_bytes = 1024 * 1024;
  milliseconds header_timeout{10'000};  // whole request head, from the first byte on
  milliseconds body_timeout{30'000};
  milliseconds idle_timeout{60'000};  // between requests of a keep-alive connection
  milliseconds write_timeout{30'000};
  milliseconds handshake_timeout{10'000};
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_address = 256;
};

struct ServerConfig {
  std::string listen = "127.0.0.1";
  std::uint16_t https_port = 8443;
  std::uint16_t http_port = 8080;  // 0: any free port (tests)
  bool redirect_http = true;       // listen on http_port and redirect to HTTPS
  std::string public_host;         // host name used in redirects; empty: the request's Host
  std::string public_url;  // https://host[:port] of the gateway; empty: https://localhost:<port>
  unsigned workers = 0;    // 0: number of cores
  milliseconds handler_timeout{30'000};
  milliseconds shutdown_grace{10'000};
  // A plugin's stop() that takes longer is left to run (holding its library): the controls and
  // the shutdown go on.
  milliseconds plugin_stop_timeout{30'000};
  // How often to check whether a burst of connections has ended, to give the heap's free
  // memory back to the system (util/heap_trim.hpp); 0: never.
  milliseconds heap_trim_interval{10'000};
  // Load balancers in front (IP addresses, as inet_ntop writes them): a connection from one
  // takes its client's address from the last X-Forwarded-For entry, and is exempt from the
  // per-address connection cap. Empty: the peer is the client.
  std::vector<std::string> trusted_proxies;
  // Addresses that may read /metrics without logging in (a Prometheus server); operators may
  // from anywhere.
  std::vector<std::string> metrics_from;
  LimitsConfig limits;
};

struct TlsConfig {
  std::string certificate;  // PEM chain
  std::string private_key;  // PEM key
};

// PostgreSQL instead of SQLite: several instances share it (see store/pg_store.hpp).
struct PostgresConfig {
  std::string url;  // postgresql://user:password@host:port/database?sslmode=...; ${ENV} allowed
  unsigned connections = 8;
  milliseconds connect_timeout{5'000};
  milliseconds statement_timeout{30'000};
};

struct StoreConfig {
  std::string sqlite = "var/passerelle.db";
  unsigned threads = 2;
  unsigned statement_cache = 64;             // prepared statements kept per connection; 0: none
  unsigned cache_mib = 16;                   // SQLite: page cache per connection
  unsigned mmap_mib = 256;                   // SQLite: file mapped per connection; 0: off
  std::optional<PostgresConfig> postgresql;  // set: the store is PostgreSQL, not `sqlite`
};

struct OutboundConfig {
  std::string ca_file;  // extra trusted CAs (PEM) besides the system store; empty: none
};

// The SMTP relay plugins send mail through (Host::mail()); no `relay`: no mail.
struct MailConfig {
  std::string relay;            // smtp://host:port (STARTTLS) or smtps://host:port; "": none
  std::string from;             // the sender: "Passerelle <noreply@example.fr>" or an address
  bool starttls = true;         // smtp://: STARTTLS required (false: plain, loopback relays)
  std::string username;         // AUTH, when the relay wants it
  std::string password_file;    // the password, read at start (never in the config itself)
  milliseconds timeout{10000};  // the whole exchange with the relay
};

// The files upload routes receive (Route::uploads, Host::attachments).
struct AttachmentsConfig {
  std::string dir;                             // default: "attachments" next to store.sqlite
  std::uint64_t max_bytes = 10 * 1024 * 1024;  // one upload's files together
  std::size_t max_files = 10;                  // files in one upload
  std::vector<std::string> types;              // media types accepted (read from the content)
  std::string clamd;                           // "/run/clamav/clamd.ctl" or "127.0.0.1:3310"
  milliseconds clamd_timeout{30'000};
  milliseconds upload_timeout{300'000};  // the whole upload must arrive within this
};

/// The media types accepted by default: PDF, images, office documents.
const std::vector<std::string>& default_attachment_types();

struct LogConfig {
  std::string level = "info";
  bool access_log = true;
  std::size_t access_log_buffer = 64 * 1024;  // per I/O thread; written when full...
  milliseconds access_log_flush{1000};        // ...or when this long has passed
};

struct PluginConfig {
  std::string name;
  // "library" (a plugin library) or "proxy" (a service proxied by the gateway: no library;
  // its config section says where, see proxy/proxy_plugin.cpp).
  std::string kind = "library";
  std::string library;      // absolute or relative to the config file's folder; "proxy"
  milliseconds timeout{0};  // 0: server.handler_timeout
  std::map<std::string, milliseconds> route_timeouts;  // "GET /api/x/{id}" -> deadline
  // Requests (and dashboard widgets) it serves at once; more get 503 with Retry-After, so that
  // a plugin that hangs holds at most this many and hurts no other.
  int max_concurrent = 1000;
  bool required = false;  // its start failing stops the gateway (else: reported, not routed)
  YAML::Node config;      // validated later against the plugin's own schema
  YAML::Node position;    // where the entry stands, for error messages
  std::string file;       // the config file it was read from ("": an operator's request)
};

struct OidcRoleRule {
  std::string role;
  std::string email_domain;  // the email ends with "@" + this
  std::string siret_prefix;  // the SIRET starts with this
  std::string claim;         // or: this claim ...
  std::string equals;        // ... has this value
};

struct OidcProviderConfig {
  std::string name;          // /auth/oidc/<name>/...
  std::string display_name;  // on the login page
  std::string issuer;        // https://..., or http://127.0.0.1:... for tests
  std::string client_id;
  std::string client_secret;                        // from ${ENV}
  std::string client_auth = "client_secret_basic";  // or client_secret_post
  std::vector<std::string> scopes{"openid", "email", "profile"};
  bool userinfo = false;                      // call the userinfo endpoint after the token exchange
  std::map<std::string, std::string> claims;  // identity field -> claim name
  std::vector<OidcRoleRule> roles;
  std::vector<std::string> default_roles;
  std::vector<std::string> algorithms{"RS256", "PS256", "ES256"};
  // The provider vouches for every address it gives (ProConnect: its agents' work addresses),
  // though it sends no email_verified claim. Otherwise an address is taken as verified only
  // with email_verified true: what lets a login take the invitation of its address.
  bool verified_emails = false;
};

struct AuthConfig {
  milliseconds session_idle_timeout{30 * 60 * 1000};
  milliseconds session_absolute_timeout{12 * 3600 * 1000};
  int max_failures_per_account = 5;   // per account and client network
  int max_failures_per_address = 20;  // per client network, all accounts together
  milliseconds failure_window{15 * 60 * 1000};
  int throttle_ipv4_prefix = 32;  // an IPv4 client network is a /32 or a /24 (IPv6: /64)
  unsigned max_pending_password_checks = 64;  // more waiting Argon2id checks: 503
  // Callers (sessions, API tokens) kept in memory; 0: none. A change made by another process
  // (the admin CLI) is seen within session_cache_ttl.
  std::size_t session_cache_max_entries = 10000;
  milliseconds session_cache_ttl{5000};
  std::string secret_key_file;  // key of the secrets at rest; default: next to the store
  std::string secret_key;       // or the key itself (base64url, 32 bytes), e.g. ${ENV}
  std::vector<OidcProviderConfig> oidc;
};

/// The portal: a static web app held in memory, answered on its asset and page paths.
struct WebConfig {
  std::string root;  // folder of the built app; default ../web/dist from the config file
  std::vector<std::string> pages{"/",           "/connexion",   "/ma-direction",     "/actualites",
                                 "/conseils",   "/offres",      "/mon-organisation", "/mon-compte",
                                 "/invitation", "/exploitation"};
};

struct Config {
  std::string file;
  bool demo = false;
  ServerConfig server;
  TlsConfig tls;
  StoreConfig store;
  LogConfig log;
  OutboundConfig outbound;
  MailConfig mail;
  AttachmentsConfig attachments;
  AuthConfig auth;
  WebConfig web;
  std::vector<PluginConfig> plugins;
  // Where operators load plugins from at runtime (POST /admin/plugins): a library is named by
  // its file name there, never by a path. Empty: no runtime loading of new libraries.
  std::string plugin_dir;
  // Origins ("https://host[:port]", "http://127.0.0.1": any port) that operators may relay at
  // runtime (POST /admin/plugins with kind: proxy). Empty: services are relayed from this file
  // only.
  std::vector<std::string> proxy_upstreams;
};

/// Reads and validates `path`; throws ConfigError ("file:line:col: message").
Config load_config(const std::string& path);

/// The same from YAML `text` said to come from `path` (relative paths resolve from its folder).
Config load_config_text(const std::string& text, const std::string& path);

}  // namespace passerelle
