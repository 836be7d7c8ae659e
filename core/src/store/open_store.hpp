// The store the config asks for: PostgreSQL when store.postgresql is set, else SQLite.
#pragma once

#include "config/config.hpp"
#include "store/store.hpp"

#include <memory>
#include <string>

namespace passerelle {

/// `threads`: SQLite's connections (its pool's threads); PostgreSQL uses the config's own.
/// `role_secret`: what the PostgreSQL store derives its plugins' role passwords from.
std::unique_ptr<Store> open_store(const StoreConfig& config, unsigned threads,
                                  const std::string& role_secret);

/// What open_store() wants as `role_secret`: derived from the secret key (auth.secret_key or
/// its file), the same on every instance that shares it; empty for SQLite.
std::string plugin_role_secret(const Config& config);

/// "sqlite (var/passerelle.db)" or "postgresql (host:port/database)": no password, for logs.
std::string describe_store(const StoreConfig& config);

}  // namespace passerelle
