// passerelle: serve (--config FILE) or check a configuration (--check-config FILE).
#include "cli/admin_cli.hpp"
#include "cli/ctl.hpp"
#include "client/http_client.hpp"
#include "config/config.hpp"
#include "config/config_error.hpp"
#include "log/log.hpp"
#include "metrics/registry.hpp"
#include "plugins/plugin_host.hpp"
#include "server/server.hpp"
#include "store/sqlite_store.hpp"

#include <csignal>
#include <cstring>
#include <iostream>
#include <string>

namespace {

constexpr const char* kUsage =
    "usage: passerelle --config FILE         serve with that configuration\n"
    "       passerelle --check-config FILE   check a configuration and its plugins, exit 0 or 2\n"
    "       passerelle --version\n";

void print_usage() { std::cerr << kUsage << passerelle::kAdminUsage << passerelle::kCtlUsage; }

// Loads every plugin library and checks its config section, without starting anything.
void check_plugins(const passerelle::Config& config) {
  passerelle::SqliteStore store(":memory:", 1);
  passerelle::OutboundHttpClient http(config.outbound);
  passerelle::MetricsRegistry metrics;
  passerelle::PluginHost host(store, http, metrics, config.server.handler_timeout);
  host.load_all(config);
}

}  // namespace

int main(int argc, char** argv) {
  // OpenSSL writes to sockets with write(): a peer that has gone must give EPIPE, not a signal
  // that ends the process.
  std::signal(SIGPIPE, SIG_IGN);
  std::string config_path;
  bool check = false;
  std::vector<std::string> command;  // admin command after the options
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--config" || arg == "--check-config") && i + 1 < argc) {
      check = arg == "--check-config";
      config_path = argv[++i];
    } else if (arg == "--version") {
      std::cout << "passerelle " << passerelle::kSdkVersion << " (" << passerelle::kBuildFingerprint
                << ")\n";
      return 0;
    } else if ((arg == "users" || arg == "tokens" || arg == "territories" || arg == "store" ||
                arg == "ctl") &&
               !config_path.empty()) {
      command.assign(argv + i, argv + argc);
      break;
    } else {
      print_usage();
      return arg == "--help" ? 0 : 64;
    }
  }
  if (config_path.empty()) {
    print_usage();
    return 64;
  }
  int code = 0;
  try {
    passerelle::Config config = passerelle::load_config(config_path);
    if (!command.empty() && command[0] == "ctl") return passerelle::run_ctl(config, command);
    if (!command.empty()) return passerelle::run_admin_command(config, command);
    if (check) {
      check_plugins(config);
      std::cout << config_path << ": valid\n";
      return 0;
    }
    passerelle::log::set_level(passerelle::log::level_from_string(config.log.level));
    if (config.demo)
      passerelle::log::warn("server",
                            "demo mode: listening on loopback only; do not use in production");
    passerelle::Server server(std::move(config));
    code = server.run();
  } catch (const passerelle::ConfigError& e) {
    passerelle::log::flush();
    std::cerr << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    passerelle::log::flush();
    std::cerr << "passerelle: " << e.what() << '\n';
    return 1;
  }
  passerelle::log::flush();
  return code;
}
