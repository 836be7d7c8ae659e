// Cookie and bearer authentication, demo seeding and the demo-password guard.
#include "auth/auth_service.hpp"

#include "auth/crypto.hpp"
#include "http/form.hpp"
#include "log/log.hpp"
#include "orgs/current_organisation.hpp"
#include "store/sqlite_store.hpp"

#include <boost/asio/this_coro.hpp>

namespace passerelle {

namespace {
struct DemoAccount {
  const char* username;
  const char* display_name;
  const char* email;
  const char* role;
  const char* commune;  // INSEE code
  const char* siret;    // of the commune, for élus and agents; "" when not known here
};
// Angers (49007) has more than 10,000 inhabitants: Territoires Conseils serves smaller communes,
// so the demo has an agent of Tuffalun (49003, Maine-et-Loire, under 2,000) to file requests.
constexpr DemoAccount kDemoAccounts[] = {
    {"elu.angers", "Élu d'Angers (démo)", "elu.angers@demo.passerelle.invalid", "elu", "49007",
     "21490007800012"},
    {"agent.angers", "Agent d'Angers (démo)", "agent.angers@demo.passerelle.invalid", "agent",
     "49007", "21490007800012"},
    {"agent.tuffalun", "Agent de Tuffalun (démo)", "agent.tuffalun@demo.passerelle.invalid",
     "agent", "49003", ""},
    {"conseiller.demo", "Conseiller (démo)", "conseiller@demo.passerelle.invalid", "advisor",
     "49007", ""},
    {"operateur.demo", "Opérateur (démo)", "operateur@demo.passerelle.invalid", "operator", "49007",
     ""},
};
}  // namespace

namespace {
CallerCacheConfig cache_config(const AuthConfig& config, bool sessions) {
  CallerCacheConfig c;
  c.max_entries = config.session_cache_max_entries;
  c.ttl = config.session_cache_ttl;
  if (sessions) {
    c.idle_timeout = std::chrono::duration_cast<std::chrono::seconds>(config.session_idle_timeout);
    c.absolute_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(config.session_absolute_timeout);
  }
  return c;
}

const std::optional<std::optional<AuthContext>> kAskTheStore;
const std::optional<AuthContext> kAnonymous;
}  // namespace

AuthService::AuthService(Store& store, BlockingPool& pool, const AuthConfig& config, bool demo)
    : store_(store),
      secrets_(SecretBox::from_config(config)),
      caches_(cache_config(config, true), cache_config(config, false)),
      accounts_(store, pool, demo, config.max_pending_password_checks, &caches_),
      sessions_(store, secrets_,
                {std::chrono::duration_cast<std::chrono::seconds>(config.session_idle_timeout),
                 std::chrono::duration_cast<std::chrono::seconds>(config.session_absolute_timeout)},
                &caches_.sessions),
      tokens_(store, &caches_.tokens),
      throttle_({config.max_failures_per_account, config.max_failures_per_address,
                 std::chrono::duration_cast<std::chrono::seconds>(config.failure_window),
                 config.throttle_ipv4_prefix}),
      demo_(demo) {}

std::optional<std::optional<AuthContext>> AuthService::authenticate_now(
    const IncomingRequest& in, const boost::asio::any_io_executor& executor) {
  if (const std::string* authorization = in.header("authorization")) {
    if (authorization->rfind("Bearer ", 0) != 0) return kAnonymous;
    const std::string token = authorization->substr(7);
    if (!ApiTokens::well_formed(token)) return kAnonymous;
    auto found = caches_.tokens.find(auth::sha256_hex(token));
    if (!found.caller) return kAskTheStore;
    return found.caller->context;
  }
  const std::string* cookies = in.header("cookie");
  if (!cookies) return kAnonymous;
  std::string value = cookie_value(*cookies, kSessionCookie);
  if (!Sessions::well_formed(value)) return kAnonymous;
  std::string id_hash = auth::sha256_hex(value);
  auto found = caches_.sessions.find(id_hash);
  if (!found.caller) return kAskTheStore;
  if (found.write_last_seen)
    sessions_.touch_later(executor, std::move(id_hash), found.write_last_seen);
  AuthContext ctx = found.caller->context;
  ctx.session_cookie = std::move(value);
  return ctx;
}

Task<std::optional<AuthContext>> AuthService::authenticate(const IncomingRequest& in) {
  if (const std::string* authorization = in.header("authorization")) {
    if (authorization->rfind("Bearer ", 0) != 0) co_return std::nullopt;
    const std::string token = authorization->substr(7);
    if (!ApiTokens::well_formed(token)) co_return std::nullopt;
    const std::string token_hash = auth::sha256_hex(token);
    const std::uint64_t since = caches_.tokens.sequence();
    if (auto known = caches_.tokens.find(token_hash); known.caller) co_return known.caller->context;
    auto resolved = co_await tokens_.resolve(token);
    if (!resolved) {
      caches_.tokens.drop(token_hash);
      co_return std::nullopt;
    }
    auto account = co_await accounts_.find_by_id(resolved->user_id);
    if (!account) co_return std::nullopt;
    const MembershipFacts facts =
        co_await read_memberships(store_, account->id, account->commune_insee);
    auto cached = std::make_shared<CachedCaller>();
    cached->context.identity = Accounts::identity_of(*account, "token");
    apply_organisation(facts, "", cached->context.identity);  // a token has no chosen one
    cached->context.user_id = account->id;
    cached->username = account->username;
    cached->token_id = resolved->id;
    caches_.tokens.put(token_hash, cached, 0, since);
    co_return cached->context;
  }
  const std::string* cookies = in.header("cookie");
  if (!cookies) co_return std::nullopt;
  std::string value = cookie_value(*cookies, kSessionCookie);
  if (!Sessions::well_formed(value)) co_return std::nullopt;
  const std::string id_hash = auth::sha256_hex(value);
  const std::uint64_t since = caches_.sessions.sequence();
  auto known = caches_.sessions.find(id_hash);
  if (known.caller) {  // filled since, or a caller that does not try authenticate_now()
    if (known.write_last_seen) {
      const auto executor = co_await boost::asio::this_coro::executor;
      sessions_.touch_later(executor, id_hash, known.write_last_seen);
    }
    AuthContext ctx = known.caller->context;
    ctx.session_cookie = std::move(value);
    co_return ctx;
  }
  // A use seen in memory since the store last heard of one still counts for the idle clock.
  auto session = co_await sessions_.resolve(value, known.last_seen);
  if (!session) {
    caches_.sessions.drop(id_hash);
    co_return std::nullopt;
  }
  auto account = co_await accounts_.find_by_id(session->user_id);
  if (!account || !account->enabled) co_return std::nullopt;
  const MembershipFacts facts =
      co_await read_memberships(store_, account->id, account->commune_insee);
  auto cached = std::make_shared<CachedCaller>();
  cached->context.identity = Accounts::identity_of(*account, session->provider);
  if (!apply_organisation(facts, session->organisation, cached->context.identity)) {
    // The organisation this session acted for removed the user: the session ends with it.
    log::info(
        "auth", "session ended: no longer a member of its organisation",
        {{"subject", cached->context.identity.subject}, {"organisation", session->organisation}});
    co_await sessions_.destroy(value);
    co_return std::nullopt;
  }
  cached->context.user_id = account->id;
  cached->context.via_cookie = true;
  cached->username = account->username;
  cached->created_at = session->created_at;
  const std::int64_t stored_last_seen = session->last_seen;
  // Sealed in the store and never read on the request path: not kept in clear in memory, nor
  // copied into every request's context.
  session->oidc.refresh_token.clear();
  cached->context.session = std::make_shared<const SessionRecord>(std::move(*session));
  caches_.sessions.put(id_hash, cached, stored_last_seen, since);
  AuthContext ctx = cached->context;
  ctx.session_cookie = std::move(value);
  co_return ctx;
}

Task<std::string> AuthService::open_session(const Account& account, std::string provider,
                                            const OidcSessionInfo* oidc) {
  // A member acts for their commune's organisation, else their first; chosen once, here.
  const MembershipFacts facts =
      co_await read_memberships(store_, account.id, account.commune_insee);
  std::string organisation;
  if (!facts.mine.empty())
    organisation = choose_organisation(facts.mine, "", account.commune_insee, true)->organisation;
  const std::string value =
      co_await sessions_.create(account.id, std::move(provider), oidc, std::move(organisation));
  co_return session_cookie(value);
}

std::string AuthService::session_cookie(const std::string& value) const {
  return std::string(kSessionCookie) + "=" + value +
         "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=" +
         std::to_string(sessions_.policy().absolute_timeout.count());
}

std::string AuthService::clear_session_cookie() {
  return std::string(kSessionCookie) + "=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0";
}

Task<void> AuthService::seed_demo_accounts() {
  std::string names;
  for (const auto& d : kDemoAccounts) {
    names += (names.empty() ? "" : ", ") + std::string(d.username);
    if (co_await accounts_.find_by_username(d.username)) continue;
    NewAccount a{d.username, kDemoPassword, d.display_name, d.email, {d.role}, d.commune, d.siret};
    co_await accounts_.create(std::move(a));
  }
  log::warn("auth", "demo accounts are active, with the password of the README",
            {{"accounts", names}});
}

Task<void> AuthService::seal_stored_secrets() {
  if (const int sealed = co_await sessions_.seal_plaintext_tokens())
    log::info("auth", "provider tokens of sessions sealed with the secret key",
              {{"sessions", sealed}});
}

Task<void> AuthService::refuse_demo_passwords() {
  for (const auto& d : kDemoAccounts) {
    if (!co_await accounts_.find_by_username(d.username)) continue;  // cheap check first
    if (co_await accounts_.check_password(d.username, kDemoPassword))
      throw AccountError(
          std::string("the account ") + d.username +
          " still has the demo password: change it (passerelle users passwd) or disable it");
  }
}

}  // namespace passerelle
