// Account storage and checks. Password hashing runs on the blocking pool.
#include "auth/accounts.hpp"

#include "auth/caller_cache.hpp"
#include "auth/crypto.hpp"
#include "store/sqlite_store.hpp"
#include "util/blocking_pool.hpp"

#include <algorithm>
#include <set>
#include <sstream>

namespace passerelle {

namespace {

constexpr const char* kColumns =
    "id, COALESCE(username, ''), display_name, email, roles, commune_insee, siret, enabled";

Account account_of(const std::vector<SqlValue>& row) {
  Account a;
  a.id = std::get<std::int64_t>(row[0]);
  a.username = std::get<std::string>(row[1]);
  a.display_name = std::get<std::string>(row[2]);
  a.email = std::get<std::string>(row[3]);
  a.roles = parse_roles(std::get<std::string>(row[4]));
  a.commune_insee = std::get<std::string>(row[5]);
  a.siret = std::get<std::string>(row[6]);
  a.enabled = std::get<std::int64_t>(row[7]) != 0;
  return a;
}

void check_profile(const std::string& display_name, const std::string& commune,
                   const std::string& siret) {
  if (display_name.empty() || display_name.size() > 200)
    throw AccountError("the display name must have 1 to 200 characters");
  const bool commune_ok =
      commune.empty() ||
      (commune.size() == 5 && std::all_of(commune.begin(), commune.end(), [](char c) {
         return std::isdigit(static_cast<unsigned char>(c)) || c == 'A' || c == 'B';
       }));
  if (!commune_ok) throw AccountError("the commune must be an INSEE code such as 49007");
  const bool siret_ok =
      siret.empty() || (siret.size() == 14 && std::all_of(siret.begin(), siret.end(), [](char c) {
                          return std::isdigit(static_cast<unsigned char>(c));
                        }));
  if (!siret_ok) throw AccountError("the SIRET must have 14 digits");
}

}  // namespace

std::vector<std::string> parse_roles(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string role; std::getline(in, role, ',');) {
    if (role.empty()) continue;
    if (!is_known_role(role))
      throw AccountError("unknown role \"" + role + "\" (elu, agent, advisor, operator)");
    if (std::find(out.begin(), out.end(), role) == out.end()) out.push_back(role);
  }
  return out;
}

std::string join_roles(const std::vector<std::string>& roles) {
  std::string out;
  for (const auto& r : roles) out += (out.empty() ? "" : ",") + r;
  return out;
}

void Accounts::check_username(const std::string& username) {
  const bool ok = username.size() >= 3 && username.size() <= 64 &&
                  std::all_of(username.begin(), username.end(), [](char c) {
                    return std::islower(static_cast<unsigned char>(c)) ||
                           std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                           c == '-';
                  });
  if (!ok) throw AccountError("the username must have 3 to 64 of a-z 0-9 . _ -");
}

void Accounts::check_new_password(const std::string& password, bool demo) {
  if (password.size() < 12) throw AccountError("the password must have at least 12 characters");
  if (password.size() > 1024) throw AccountError("the password must have at most 1024 characters");
  if (!demo && password == kDemoPassword)
    throw AccountError("the demo password is refused outside demo mode");
}

Task<std::int64_t> Accounts::create(NewAccount a) {
  check_username(a.username);
  check_new_password(a.password, demo_);
  check_profile(a.display_name, a.commune_insee, a.siret);
  // The job is named before co_await: g++ 12 destroys a lambda prvalue's captures twice there.
  auto hashing = [pw = a.password] { return auth::hash_password(pw); };
  std::string hash = co_await pool_.run(std::move(hashing));
  Statement insert{
      "INSERT INTO users(username, display_name, email, password_hash, roles, commune_insee, "
      "siret) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
      {a.username, a.display_name, a.email, hash, join_roles(a.roles), a.commune_insee, a.siret}};
  try {
    auto r = co_await store_.query(std::move(insert));
    co_return std::get<std::int64_t>(r.rows.at(0).at(0));
  } catch (const std::runtime_error& e) {
    // SQLite says "UNIQUE constraint failed", PostgreSQL "duplicate key value".
    const std::string what = e.what();
    if (what.find("UNIQUE") == std::string::npos && what.find("duplicate key") == std::string::npos)
      throw;
  }
  throw AccountError("the username \"" + a.username + "\" is taken");
}

Task<std::optional<Account>> Accounts::find_by_username(std::string username) {
  Statement q{std::string("SELECT ") + kColumns + " FROM users WHERE username = ?1", {username}};
  auto r = co_await store_.query(std::move(q));
  if (r.rows.empty()) co_return std::nullopt;
  co_return account_of(r.rows[0]);
}

Task<std::optional<Account>> Accounts::find_by_id(std::int64_t id) {
  Statement q{std::string("SELECT ") + kColumns + " FROM users WHERE id = ?1", {id}};
  auto r = co_await store_.query(std::move(q));
  if (r.rows.empty()) co_return std::nullopt;
  co_return account_of(r.rows[0]);
}

Task<std::vector<Account>> Accounts::list() {
  Statement q{std::string("SELECT ") + kColumns + " FROM users ORDER BY id", {}};
  auto r = co_await store_.query(std::move(q));
  std::vector<Account> out;
  for (const auto& row : r.rows) out.push_back(account_of(row));
  co_return out;
}

Task<void> Accounts::set_password(std::string username, std::string password) {
  check_new_password(password, demo_);
  auto hashing = [pw = std::move(password)] { return auth::hash_password(pw); };
  std::string hash = co_await pool_.run(std::move(hashing));
  // A new password ends every session: the reason for the change may be a stolen one.
  std::vector<Statement> statements{
      {"UPDATE users SET password_hash = ?2 WHERE username = ?1", {username, hash}},
      {"DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
       {username}}};
  const auto r = co_await store_.transaction(std::move(statements));
  if (caches_) caches_->forget_username(username);
  if (r[0].changes == 0) throw AccountError("no account \"" + username + "\"");
}

Task<void> Accounts::set_enabled(std::string username, bool enabled) {
  std::vector<Statement> statements{
      {"UPDATE users SET enabled = ?2 WHERE username = ?1", {username, std::int64_t{enabled}}},
      // Disabling ends every session and token use at once.
      {"DELETE FROM sessions WHERE ?2 = 0 AND user_id = (SELECT id FROM users WHERE username = ?1)",
       {username, std::int64_t{enabled}}}};
  auto r = co_await store_.transaction(std::move(statements));
  if (caches_) caches_->forget_username(username);
  if (r[0].changes == 0) throw AccountError("no account \"" + username + "\"");
}

Task<void> Accounts::set_roles(std::string username, std::vector<std::string> roles) {
  Statement q{"UPDATE users SET roles = ?2 WHERE username = ?1", {username, join_roles(roles)}};
  const QueryResult r = co_await store_.query(std::move(q));
  if (caches_) caches_->forget_username(username);
  if (r.changes == 0) throw AccountError("no account \"" + username + "\"");
}

Task<std::optional<Account>> Accounts::check_password(std::string username, std::string password) {
  Statement q{std::string("SELECT ") + kColumns + ", password_hash FROM users WHERE username = ?1",
              {username}};
  auto r = co_await store_.query(std::move(q));
  std::optional<std::string> hash;
  if (!r.rows.empty() && std::holds_alternative<std::string>(r.rows[0][8]))
    hash = std::get<std::string>(r.rows[0][8]);
  auto verifying = [hash, pw = std::move(password)] {
    // Unknown users are checked against a fixed hash, so that both answers take as long.
    static const std::string kDummy = auth::hash_password("not a real password, only for timing");
    return auth::verify_password(hash ? *hash : kDummy, pw) && hash.has_value();
  };
  // Bounded: a flood of logins gets quick 503s instead of a queue that delays everyone.
  const bool ok = co_await pool_.run_limited(checks_, std::move(verifying));
  if (!ok) co_return std::nullopt;
  Account a = account_of(r.rows[0]);
  if (!a.enabled) co_return std::nullopt;
  co_return a;
}

Task<Account> Accounts::link_federated(std::string provider, std::string subject,
                                       FederatedProfile p) {
  if (p.display_name.empty()) p.display_name = p.email.empty() ? subject : p.email;
  const std::vector<SqlValue> profile{
      provider, subject, p.display_name, p.email, join_roles(p.roles), p.commune_insee, p.siret};
  std::vector<Statement> statements;
  // The account and its link, made once: SQLite links the row it just inserted; PostgreSQL,
  // where another instance may insert at the same moment, does both in one statement.
  if (store_.dialect() == "postgresql") {
    statements.push_back(
        {"WITH created AS (INSERT INTO users(display_name, email, roles, commune_insee, siret) "
         "SELECT ?3, ?4, ?5, ?6, ?7 WHERE NOT EXISTS (SELECT 1 FROM user_links WHERE provider = "
         "?1 AND subject = ?2) RETURNING id) INSERT INTO user_links(provider, subject, user_id) "
         "SELECT ?1, ?2, id FROM created ON CONFLICT DO NOTHING",
         profile});
  } else {
    statements.push_back(
        {"INSERT INTO users(display_name, email, roles, commune_insee, siret) "
         "SELECT ?3, ?4, ?5, ?6, ?7 WHERE NOT EXISTS (SELECT 1 FROM user_links WHERE provider = "
         "?1 AND subject = ?2)",
         profile});
    statements.push_back(
        {"INSERT OR IGNORE INTO user_links(provider, subject, user_id) VALUES "
         "(?1, ?2, last_insert_rowid())",
         {provider, subject}});
  }
  // Claims and role rules are re-applied at every login: the provider is the authority.
  statements.push_back(
      {"UPDATE users SET display_name = ?3, email = ?4, roles = ?5, commune_insee = ?6, siret = ?7 "
       "WHERE id = (SELECT user_id FROM user_links WHERE provider = ?1 AND subject = ?2)",
       profile});
  statements.push_back({std::string("SELECT ") + kColumns +
                            " FROM users WHERE id = (SELECT user_id FROM user_links WHERE "
                            "provider = ?1 AND subject = ?2)",
                        {provider, subject}});
  auto r = co_await store_.transaction(std::move(statements));
  if (r.back().rows.empty()) throw AccountError("federated account could not be linked");
  Account account = account_of(r.back().rows[0]);
  // The claims may have changed the roles or the commune of sessions already open.
  if (caches_) caches_->forget_user(account.id);
  co_return account;
}

Identity Accounts::identity_of(const Account& a, const std::string& provider) {
  Identity id;
  id.subject = "u-" + std::to_string(a.id);
  id.display_name = a.display_name;
  id.email = a.email;
  id.roles = a.roles;
  id.commune_insee = a.commune_insee;
  id.siret = a.siret;
  id.provider = provider;
  return id;
}

}  // namespace passerelle
