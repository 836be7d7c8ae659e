// The gateway's typed configuration, read once from YAML at start-up.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace passerelle {

using std::chrono::milliseconds;

struct LimitsConfig {
  std::size_t header_bytes = 8 * 1024;
  std::size_t body_bytes = 1024 * 1024;
  milliseconds header_timeout{10'000};  // whole request head, from the first byte on
  milliseconds body_timeout{30'000};
  milliseconds idle_timeout{60'000};    // between requests of a keep-alive connection
  milliseconds write_timeout{30'000};
  milliseconds handshake_timeout{10'000};
  std::size_t max_connections = 10'000;
};

struct ServerConfig {
  std::string listen = "127.0.0.1";
  std::uint16_t https_port = 8443;
  std::uint16_t http_port = 8080;  // 0: any free port (tests)
  bool redirect_http = true;       // listen on http_port and redirect to HTTPS
  std::string public_host;         // host name used in redirects; empty: the request's Host
  unsigned workers = 0;            // 0: number of cores
  milliseconds handler_timeout{30'000};
  milliseconds shutdown_grace{10'000};
  LimitsConfig limits;
};

struct TlsConfig {
  std::string certificate;  // PEM chain
  std::string private_key;  // PEM key
};

struct StoreConfig {
  std::string sqlite = "var/passerelle.db";
  unsigned threads = 2;
};

struct OutboundConfig {
  std::string ca_file;  // extra trusted CAs (PEM) besides the system store; empty: none
};

struct LogConfig {
  std::string level = "info";
  bool access_log = true;
};

struct PluginConfig {
  std::string name;
  std::string library;  // absolute or relative to the config file's folder
  milliseconds timeout{0};                        // 0: server.handler_timeout
  std::map<std::string, milliseconds> route_timeouts;  // "GET /api/x/{id}" -> deadline
  YAML::Node config;    // validated later against the plugin's own schema
  YAML::Node position;  // where the entry stands, for error messages
};

struct Config {
  std::string file;
  bool demo = false;
  ServerConfig server;
  TlsConfig tls;
  StoreConfig store;
  LogConfig log;
  OutboundConfig outbound;
  std::vector<PluginConfig> plugins;
};

/// Reads and validates `path`; throws ConfigError ("file:line:col: message").
Config load_config(const std::string& path);

}  // namespace passerelle
