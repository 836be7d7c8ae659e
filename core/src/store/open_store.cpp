#include "store/open_store.hpp"

#include "auth/secret_box.hpp"
#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"

#include <libpq-fe.h>

#include <stdexcept>

namespace passerelle {

std::unique_ptr<Store> open_store(const StoreConfig& config, unsigned threads,
                                  const std::string& role_secret) {
  if (config.postgresql) {
    // libpq's own message on a malformed URL may quote a piece of it, the password included:
    // a URL it cannot read gets this line instead.
    char* error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(config.postgresql->url.c_str(), &error);
    if (error) PQfreemem(error);
    if (!parsed)
      throw std::runtime_error(
          "store.postgresql.url is not a connection URL libpq can read (postgresql://user@host:"
          "port/database?sslmode=...; percent-encode special characters of the password)");
    PQconninfoFree(parsed);
    PgOptions options;
    options.url = config.postgresql->url;
    options.connections = config.postgresql->connections;
    options.connect_timeout = config.postgresql->connect_timeout;
    options.statement_timeout = config.postgresql->statement_timeout;
    options.role_secret = role_secret;
    return std::make_unique<PgStore>(std::move(options));
  }
  return std::make_unique<SqliteStore>(config.sqlite, threads, std::chrono::seconds(30),
                                       config.statement_cache,
                                       SqliteMemory{config.cache_mib, config.mmap_mib});
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
