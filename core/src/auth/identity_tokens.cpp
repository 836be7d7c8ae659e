// One ES256 key kept in the store (so every instance and every restart signs with it), sealed
// with the secret key that lives outside the store.
#include "auth/identity_tokens.hpp"

#include "auth/secret_box.hpp"
#include "log/log.hpp"
#include "store/sqlite_store.hpp"

#include <boost/json/array.hpp>

namespace passerelle {

namespace json = boost::json;

namespace {
constexpr const char* kPrivateKeyContext = "signing_keys.private_jwk";
}  // namespace

Task<void> IdentityTokens::load(Store& store, const SecretBox& secrets) {
  Statement select{"SELECT kid, private_jwk FROM signing_keys ORDER BY created_at DESC LIMIT 1",
                   {}};
  auto r = co_await store.query(std::move(select));
  if (!r.rows.empty()) {
    const std::string kid = std::get<std::string>(r.rows[0][0]);
    const std::string stored = std::get<std::string>(r.rows[0][1]);
    if (!SecretBox::is_sealed(stored)) {
      // Written by a version that kept it in plain text: sealed now, once.
      key_.emplace(jose::SigningKey::from_private_json(stored));
      Statement seal{"UPDATE signing_keys SET private_jwk = ?2 WHERE kid = ?1",
                     {kid, secrets.seal_for_store(stored, kPrivateKeyContext)}};
      co_await store.query(std::move(seal));
      log::info("auth", "signing key sealed with the secret key", {{"kid", kid}});
      co_return;
    }
    auto json = secrets.open_from_store(stored, kPrivateKeyContext);
    if (!json)
      throw std::runtime_error(
          "the signing key in the store does not open with the secret key of " + secrets.origin() +
          ": it is not the key this store was made with");
    key_.emplace(jose::SigningKey::from_private_json(*json));
    co_return;
  }
  auto fresh = jose::SigningKey::generate();
  Statement insert{
      "INSERT INTO signing_keys(kid, private_jwk) VALUES (?1, ?2)",
      {fresh.kid(), secrets.seal_for_store(fresh.to_private_json(), kPrivateKeyContext)}};
  co_await store.query(std::move(insert));
  key_.emplace(std::move(fresh));
}

json::object IdentityTokens::jwks() const {
  json::array keys;
  if (key_) keys.push_back(key_->public_jwk());
  return {{"keys", std::move(keys)}};
}

std::int64_t IdentityTokens::system_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IdentityTokens::mint(const Identity& who, const std::string& audience,
                                 std::chrono::seconds ttl) const {
  if (!key_) throw std::runtime_error("identity tokens are not ready");
  ttl = std::clamp(ttl, std::chrono::seconds(1), std::chrono::seconds(600));
  const std::int64_t now = now_();
  // Every claim but the times, and the life asked: what makes two tokens the same. Each value
  // with its length first, so that no two sets of values give the same key.
  std::string key;
  const auto put = [&key](std::string_view value) {
    key.append(std::to_string(value.size())).append(":").append(value);
  };
  for (const std::string_view value :
       {std::string_view(issuer_), std::string_view(who.subject), std::string_view(audience),
        std::string_view(who.display_name), std::string_view(who.email),
        std::string_view(who.commune_insee), std::string_view(who.siret),
        std::string_view(who.provider)})
    put(value);
  for (const auto& r : who.roles) put(r);
  key.append(std::to_string(who.roles.size())).append("/").append(std::to_string(ttl.count()));
  {
    std::lock_guard lock(mutex_);
    const auto it = minted_.find(key);
    if (it != minted_.end() && now >= it->second.issued &&
        now - it->second.issued <= ttl.count() / 2)
      return it->second.token;
  }
  json::array roles;
  for (const auto& r : who.roles) roles.emplace_back(r);
  json::object claims{{"iss", issuer_},
                      {"sub", who.subject},
                      {"aud", audience},
                      {"name", who.display_name},
                      {"email", who.email},
                      {"roles", std::move(roles)},
                      {"commune_insee", who.commune_insee},
                      {"siret", who.siret},
                      {"idp", who.provider}};
  claims["iat"] = now;
  claims["nbf"] = now;
  claims["exp"] = now + ttl.count();
  std::string token = key_->sign(claims);
  std::lock_guard lock(mutex_);
  if (minted_.size() >= kMaxCached) minted_.clear();
  minted_[key] = Minted{token, now};
  return token;
}

}  // namespace passerelle
