// Tokens are "pst_" + 256 random bits; the store keeps their SHA-256 only.
#include "auth/api_tokens.hpp"

#include "auth/accounts.hpp"
#include "auth/caller_cache.hpp"
#include "auth/crypto.hpp"
#include "store/sqlite_store.hpp"
#include "util/clock.hpp"

namespace passerelle {

Task<std::string> ApiTokens::create(std::string username, std::string name) {
  if (name.empty() || name.size() > 100)
    throw AccountError("the token name must have 1 to 100 characters");
  Statement who{"SELECT id, roles, enabled FROM users WHERE username = ?1", {username}};
  auto r = co_await store_.query(std::move(who));
  if (r.rows.empty()) throw AccountError("no account \"" + username + "\"");
  const auto roles = parse_roles(std::get<std::string>(r.rows[0][1]));
  if (std::find(roles.begin(), roles.end(), "operator") == roles.end())
    throw AccountError("API tokens are for operator accounts only");
  const std::string token = "pst_" + auth::random_token(32);
  Statement insert{"INSERT INTO api_tokens(user_id, name, token_hash) VALUES (?1, ?2, ?3)",
                   {r.rows[0][0], name, auth::sha256_hex(token)}};
  co_await store_.query(std::move(insert));
  co_return token;
}

Task<std::vector<ApiTokenInfo>> ApiTokens::list() {
  Statement q{
      "SELECT t.id, u.username, t.name, t.created_at, t.revoked_at IS NOT NULL FROM api_tokens t "
      "JOIN users u ON u.id = t.user_id ORDER BY t.id",
      {}};
  auto r = co_await store_.query(std::move(q));
  std::vector<ApiTokenInfo> out;
  for (const auto& row : r.rows)
    out.push_back({std::get<std::int64_t>(row[0]), std::get<std::string>(row[1]),
                   std::get<std::string>(row[2]), std::get<std::string>(row[3]),
                   std::get<std::int64_t>(row[4]) != 0});
  co_return out;
}

Task<bool> ApiTokens::revoke(std::int64_t id) {
  // The time from here, not from SQL (portable SQL: no strftime, no now()).
  Statement q{"UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
              {id, utc_timestamp()}};
  const QueryResult r = co_await store_.query(std::move(q));
  if (cache_) cache_->forget_token(id);
  co_return r.changes > 0;
}

Task<std::optional<ResolvedToken>> ApiTokens::resolve(std::string token) {
  if (!well_formed(token)) co_return std::nullopt;
  Statement q{
      "SELECT t.id, t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id "
      "WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND u.enabled = 1",
      {auth::sha256_hex(token)}};
  auto r = co_await store_.query(std::move(q));
  if (r.rows.empty()) co_return std::nullopt;
  co_return ResolvedToken{std::get<std::int64_t>(r.rows[0][0]),
                          std::get<std::int64_t>(r.rows[0][1])};
}

}  // namespace passerelle
