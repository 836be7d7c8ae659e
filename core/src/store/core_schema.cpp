// Version 1: accounts with federated links, server-side sessions (ids stored hashed), API
// tokens (hashed), the signing keys of identity tokens, and OpenID logins in progress.
// Version 2: the administrative divisions (communes, departments, regions).
// Version 3: logins in progress move to a sealed cookie: their table goes.
#include "store/core_schema.hpp"

#include "store/table_guard.hpp"

#include <regex>

namespace passerelle {

std::vector<Migration> core_migrations() {
  return {{1, R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT UNIQUE,
  display_name TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  password_hash TEXT,
  roles TEXT NOT NULL DEFAULT '',
  commune_insee TEXT NOT NULL DEFAULT '',
  siret TEXT NOT NULL DEFAULT '',
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE TABLE user_links (
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (provider, subject)
);
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  provider TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  oidc_sid TEXT,
  oidc_sub TEXT,
  id_token TEXT,
  refresh_token TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_oidc ON sessions(provider, oidc_sid);
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
  revoked_at TEXT
);
CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  private_jwk TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
CREATE TABLE oidc_pending (
  state_hash TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  browser_hash TEXT NOT NULL,
  nonce TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  next TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
)sql"},
          {2, R"sql(
CREATE TABLE territory_regions (code TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE territory_departments (code TEXT PRIMARY KEY, name TEXT NOT NULL, region TEXT NOT NULL);
CREATE TABLE territory_communes (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  department TEXT NOT NULL,
  region TEXT NOT NULL,
  population INTEGER NOT NULL DEFAULT 0,
  postal_codes TEXT NOT NULL DEFAULT '',
  epci TEXT NOT NULL DEFAULT ''
);
CREATE TABLE territory_import (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  source TEXT NOT NULL,
  imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
);
)sql"},
          // Every anonymous /auth/oidc/<p>/start cost a durable write here; the pending login
          // now travels in a sealed cookie (auth/oidc/pending_login.hpp).
          {3, R"sql(
DROP TABLE IF EXISTS oidc_pending;
)sql"}};
}

std::string core_table_reached(const std::string& plugin) {
  // Read from the migrations themselves, so that a table added to the core is covered at once.
  // Tables dropped since (oidc_pending) stay reserved: an old store may still hold them.
  std::vector<std::string> tables = {"schema_migrations", "sqlite_master", "sqlite_sequence"};
  static const std::regex kCreate(
      R"(create\s+(?:virtual\s+)?table\s+(?:if\s+not\s+exists\s+)?(\w+))", std::regex::icase);
  for (const auto& m : core_migrations())
    for (std::sregex_iterator it(m.sql.begin(), m.sql.end(), kCreate), end; it != end; ++it)
      tables.push_back((*it)[1].str());
  const std::string prefix = table_prefix(plugin);
  for (const auto& table : tables) {
    std::string lower = table;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower.size() > prefix.size() && lower.compare(0, prefix.size(), prefix) == 0) return table;
  }
  return {};
}

}  // namespace passerelle
