// Session rows keyed by the hash of the cookie; expiry checked on every use.
#include "auth/sessions.hpp"

#include "auth/caller_cache.hpp"
#include "auth/crypto.hpp"
#include "auth/secret_box.hpp"
#include "log/log.hpp"
#include "store/sqlite_store.hpp"
#include "util/clock.hpp"

#include <boost/asio/co_spawn.hpp>

#include <algorithm>

namespace passerelle {

namespace {
// Touching the idle clock on every request would write on every request: once a minute is
// precise enough for timeouts counted in minutes.
constexpr std::int64_t kTouchEvery = 60;

// Associated data of each sealed column: a value cannot be moved to another column.
constexpr const char* kIdTokenContext = "sessions.id_token";
constexpr const char* kRefreshTokenContext = "sessions.refresh_token";

SqlValue text_or_null(const std::string& s) { return s.empty() ? SqlValue{nullptr} : SqlValue{s}; }
std::string text_of(const SqlValue& v) {
  return std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : std::string();
}
}  // namespace

SqlValue Sessions::seal(const std::string& value, const char* context) const {
  return value.empty() ? SqlValue{nullptr} : SqlValue{secrets_.seal_for_store(value, context)};
}

std::string Sessions::open(const SqlValue& value, const char* context) const {
  const std::string text = text_of(value);
  if (text.empty()) return {};
  auto plain = secrets_.open_from_store(text, context);
  // Only a replaced key file gets here (start-up refuses a key that does not open the signing
  // key): the session goes on without the provider's tokens.
  if (!plain) log::warn("auth", "a session's provider token does not open with the secret key");
  return plain.value_or(std::string());
}

Task<std::string> Sessions::create(std::int64_t user_id, std::string provider,
                                   const OidcSessionInfo* info, std::string organisation) {
  const OidcSessionInfo oidc = info ? *info : OidcSessionInfo{};
  const std::string cookie = auth::random_token(32);
  const std::int64_t now = unix_seconds();
  Statement insert{
      "INSERT INTO sessions(id_hash, user_id, csrf_token, provider, created_at, last_seen, "
      "oidc_sid, "
      "oidc_sub, id_token, refresh_token, organisation) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, "
      "?8, ?9, ?10)",
      {auth::sha256_hex(cookie), user_id, auth::random_token(32), provider, now,
       text_or_null(oidc.sid), text_or_null(oidc.sub), seal(oidc.id_token, kIdTokenContext),
       seal(oidc.refresh_token, kRefreshTokenContext), organisation}};
  co_await store_.query(std::move(insert));
  co_return cookie;
}

Task<std::optional<SessionRecord>> Sessions::resolve(std::string cookie, std::int64_t seen) {
  if (!well_formed(cookie)) co_return std::nullopt;  // 32 bytes in base64url
  const std::string id_hash = auth::sha256_hex(cookie);
  Statement select{
      "SELECT s.user_id, s.provider, s.csrf_token, s.created_at, s.last_seen, s.oidc_sid, "
      "s.oidc_sub, "
      "s.id_token, s.refresh_token, s.organisation FROM sessions s JOIN users u ON u.id = "
      "s.user_id "
      "WHERE s.id_hash = ?1 AND u.enabled = 1",
      {id_hash}};
  auto r = co_await store_.query(std::move(select));
  if (r.rows.empty()) co_return std::nullopt;
  const auto& row = r.rows[0];
  const std::int64_t now = unix_seconds();
  const std::int64_t created = std::get<std::int64_t>(row[3]);
  std::int64_t last_seen = std::get<std::int64_t>(row[4]);
  if (now - created > policy_.absolute_timeout.count() ||
      now - std::max(last_seen, seen) > policy_.idle_timeout.count()) {
    co_await destroy(cookie);
    co_return std::nullopt;
  }
  if (now - last_seen >= kTouchEvery) {
    Statement touch{"UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1", {id_hash, now}};
    co_await store_.query(std::move(touch));
    last_seen = now;
  }
  SessionRecord s;
  s.created_at = created;
  s.last_seen = last_seen;
  s.user_id = std::get<std::int64_t>(row[0]);
  s.provider = std::get<std::string>(row[1]);
  s.csrf_token = std::get<std::string>(row[2]);
  s.oidc = {text_of(row[5]), text_of(row[6]), open(row[7], kIdTokenContext),
            open(row[8], kRefreshTokenContext)};
  s.organisation = text_of(row[9]);
  co_return s;
}

Task<void> Sessions::destroy(std::string cookie) {
  const std::string id_hash = auth::sha256_hex(cookie);
  Statement del{"DELETE FROM sessions WHERE id_hash = ?1", {id_hash}};
  co_await store_.query(std::move(del));
  if (cache_) cache_->erase(id_hash);
}

namespace {
// Its own coroutine taking values: it outlives the request that saw the use.
Task<void> write_last_seen(Store& store, std::string id_hash, std::int64_t seen) {
  // Never back in time: another instance, or the store's own lookup, may have written later.
  Statement touch{"UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1 AND last_seen < ?2",
                  {std::move(id_hash), seen}};
  co_await store.query(std::move(touch));
}

void log_touch_failure(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    log::warn("auth", "a session's last use could not be written", {{"error", e.what()}});
  } catch (...) {
    log::warn("auth", "a session's last use could not be written", {{"error", "unknown"}});
  }
}
}  // namespace

void Sessions::touch_later(const boost::asio::any_io_executor& executor, std::string id_hash,
                           std::int64_t seen) {
  boost::asio::co_spawn(executor, write_last_seen(store_, std::move(id_hash), seen),
                        log_touch_failure);
}

namespace {
std::string public_id_of_hash(const std::string& id_hash) {
  return auth::sha256_hex(id_hash).substr(0, 16);
}
}  // namespace

std::string Sessions::public_id(const std::string& cookie) {
  return public_id_of_hash(auth::sha256_hex(cookie));
}

Task<std::vector<SessionSummary>> Sessions::list_for_user(std::int64_t user_id) {
  Statement select{
      "SELECT id_hash, provider, created_at, last_seen FROM sessions WHERE user_id = ?1 "
      "ORDER BY created_at, id_hash",
      {user_id}};
  auto r = co_await store_.query(std::move(select));
  const std::int64_t now = unix_seconds();
  std::vector<SessionSummary> out;
  for (const auto& row : r.rows) {
    const std::int64_t created = std::get<std::int64_t>(row[2]);
    const std::int64_t last_seen = std::get<std::int64_t>(row[3]);
    if (now - created > policy_.absolute_timeout.count() ||
        now - last_seen > policy_.idle_timeout.count())
      continue;
    out.push_back({public_id_of_hash(std::get<std::string>(row[0])), std::get<std::string>(row[1]),
                   created, last_seen});
  }
  co_return out;
}

Task<bool> Sessions::destroy_by_public_id(std::int64_t user_id, std::string id) {
  if (id.size() != 16) co_return false;
  Statement select{"SELECT id_hash FROM sessions WHERE user_id = ?1", {user_id}};
  auto r = co_await store_.query(std::move(select));
  for (const auto& row : r.rows) {
    const std::string& id_hash = std::get<std::string>(row[0]);
    if (public_id_of_hash(id_hash) != id) continue;
    // The user id again: the row must still be this user's when it is deleted.
    Statement del{"DELETE FROM sessions WHERE id_hash = ?1 AND user_id = ?2", {id_hash, user_id}};
    auto d = co_await store_.query(std::move(del));
    if (cache_) cache_->erase(id_hash);
    co_return d.changes > 0;
  }
  co_return false;
}

Task<int> Sessions::destroy_all_for_user(std::int64_t user_id) {
  Statement del{"DELETE FROM sessions WHERE user_id = ?1", {user_id}};
  auto r = co_await store_.query(std::move(del));
  if (cache_) cache_->forget_user(user_id);
  co_return static_cast<int>(r.changes);
}

Task<int> Sessions::destroy_federated(std::string provider, std::string sid, std::string sub) {
  if (sid.empty() && sub.empty()) co_return 0;
  // Back-Channel Logout §2.6: when the token names both, a session must match both.
  Statement del =
      sid.empty()
          ? Statement{"DELETE FROM sessions WHERE provider = ?1 AND oidc_sub = ?2", {provider, sub}}
      : sub.empty()
          ? Statement{"DELETE FROM sessions WHERE provider = ?1 AND oidc_sid = ?2", {provider, sid}}
          : Statement{
                "DELETE FROM sessions WHERE provider = ?1 AND oidc_sid = ?2 AND oidc_sub = ?3",
                {provider, sid, sub}};
  auto r = co_await store_.query(std::move(del));
  if (cache_) cache_->forget_federated(provider, sid, sub);
  co_return static_cast<int>(r.changes);
}

Task<int> Sessions::seal_plaintext_tokens() {
  Statement select{
      "SELECT id_hash, id_token, refresh_token FROM sessions WHERE (id_token IS NOT NULL AND "
      "id_token NOT LIKE 'enc1:%') OR (refresh_token IS NOT NULL AND refresh_token NOT LIKE "
      "'enc1:%')",
      {}};
  auto r = co_await store_.query(std::move(select));
  std::vector<Statement> updates;
  for (const auto& row : r.rows) {
    auto sealed = [&](const SqlValue& v, const char* context) {
      const std::string text = text_of(v);
      if (text.empty() || SecretBox::is_sealed(text)) return v;
      return seal(text, context);
    };
    updates.push_back(
        {"UPDATE sessions SET id_token = ?2, refresh_token = ?3 WHERE id_hash = ?1",
         {row[0], sealed(row[1], kIdTokenContext), sealed(row[2], kRefreshTokenContext)}});
  }
  if (!updates.empty()) co_await store_.transaction(std::move(updates));
  co_return static_cast<int>(r.rows.size());
}

}  // namespace passerelle
