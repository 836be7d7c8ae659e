// Cookie and bearer authentication, demo seeding and the demo-password guard.
#include "auth/auth_service.hpp"

#include "http/form.hpp"
#include "log/log.hpp"
#include "store/sqlite_store.hpp"

namespace passerelle {

namespace {
struct DemoAccount {
  const char* username;
  const char* display_name;
  const char* email;
  const char* role;
};
constexpr DemoAccount kDemoAccounts[] = {
    {"elu.angers", "Élu d'Angers (démo)", "elu.angers@demo.passerelle.invalid", "elu"},
    {"agent.angers", "Agent d'Angers (démo)", "agent.angers@demo.passerelle.invalid", "agent"},
    {"conseiller.demo", "Conseiller (démo)", "conseiller@demo.passerelle.invalid", "advisor"},
    {"operateur.demo", "Opérateur (démo)", "operateur@demo.passerelle.invalid", "operator"},
};
constexpr const char* kAngersInsee = "49007";
constexpr const char* kAngersSiret = "21490007800012";
}  // namespace

AuthService::AuthService(SqliteStore& store, BlockingPool& pool, const AuthConfig& config,
                         bool demo)
    : secrets_(SecretBox::from_config(config)),
      accounts_(store, pool, demo, config.max_pending_password_checks),
      sessions_(
          store, secrets_,
          {std::chrono::duration_cast<std::chrono::seconds>(config.session_idle_timeout),
           std::chrono::duration_cast<std::chrono::seconds>(config.session_absolute_timeout)}),
      tokens_(store),
      throttle_({config.max_failures_per_account, config.max_failures_per_address,
                 std::chrono::duration_cast<std::chrono::seconds>(config.failure_window),
                 config.throttle_ipv4_prefix}),
      demo_(demo) {}

Task<std::optional<AuthContext>> AuthService::authenticate(const IncomingRequest& in) {
  if (const std::string* authorization = in.header("authorization")) {
    if (authorization->rfind("Bearer ", 0) != 0) co_return std::nullopt;
    auto user_id = co_await tokens_.resolve(authorization->substr(7));
    if (!user_id) co_return std::nullopt;
    auto account = co_await accounts_.find_by_id(*user_id);
    if (!account) co_return std::nullopt;
    AuthContext ctx;
    ctx.identity = Accounts::identity_of(*account, "token");
    ctx.user_id = account->id;
    co_return ctx;
  }
  const std::string* cookies = in.header("cookie");
  if (!cookies) co_return std::nullopt;
  std::string value = cookie_value(*cookies, kSessionCookie);
  if (value.empty()) co_return std::nullopt;
  auto session = co_await sessions_.resolve(value);
  if (!session) co_return std::nullopt;
  auto account = co_await accounts_.find_by_id(session->user_id);
  if (!account || !account->enabled) co_return std::nullopt;
  AuthContext ctx;
  ctx.identity = Accounts::identity_of(*account, session->provider);
  ctx.user_id = account->id;
  ctx.via_cookie = true;
  ctx.session_cookie = std::move(value);
  ctx.session = std::move(session);
  co_return ctx;
}

Task<std::string> AuthService::open_session(const Account& account, std::string provider,
                                            const OidcSessionInfo* oidc) {
  const std::string value = co_await sessions_.create(account.id, std::move(provider), oidc);
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
    NewAccount a{
        d.username,
        kDemoPassword,
        d.display_name,
        d.email,
        {d.role},
        kAngersInsee,
        std::string(d.role) == "elu" || std::string(d.role) == "agent" ? kAngersSiret : ""};
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
