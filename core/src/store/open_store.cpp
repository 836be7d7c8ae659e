#include "store/open_store.hpp"

#include "auth/secret_box.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"

namespace passerelle {

std::unique_ptr<Store> open_store(const StoreConfig& config, unsigned threads,
                                  const std::string& role_secret) {
  if (config.postgresql) {
    PgOptions options;
    options.url = config.postgresql->url;
    options.connections = config.postgresql->connections;
    options.connect_timeout = config.postgresql->connect_timeout;
    options.statement_timeout = config.postgresql->statement_timeout;
    options.role_secret = role_secret;
    return std::make_unique<PgStore>(std::move(options));
  }
  return std::make_unique<SqliteStore>(config.sqlite, threads, std::chrono::seconds(30),
                                       config.statement_cache);
}

std::string plugin_role_secret(const Config& config) {
  if (!config.store.postgresql) return {};
  return SecretBox::from_config(config.auth).derived("passerelle: plugin roles in the store");
}

std::string describe_store(const StoreConfig& config) {
  if (!config.postgresql) return "sqlite (" + config.sqlite + ")";
  // postgresql://user:password@host:port/database?options: from the host to the options.
  std::string url = config.postgresql->url;
  if (auto at = url.rfind('@'); at != std::string::npos)
    url = url.substr(at + 1);
  else if (auto scheme = url.find("://"); scheme != std::string::npos)
    url = url.substr(scheme + 3);
  if (auto q = url.find('?'); q != std::string::npos) url.resize(q);
  return "postgresql (" + url + ")";
}

}  // namespace passerelle
