// A login in progress is one row (state, nonce, PKCE verifier, next) bound to the browser by a
// short-lived cookie; the callback consumes the row, so a replayed callback finds nothing.
#include "auth/oidc/oidc_logins.hpp"

#include "auth/auth_routes.hpp"
#include "auth/auth_service.hpp"
#include "auth/crypto.hpp"
#include "auth/oidc/claims.hpp"
#include "http/form.hpp"
#include "http/responses.hpp"
#include "log/log.hpp"
#include "store/sqlite_store.hpp"
#include "util/clock.hpp"

namespace passerelle {

namespace {

constexpr const char* kLoginCookie = "__Host-passerelle-oidc";
constexpr std::int64_t kLoginLifetime = 600;  // seconds to complete a sign-in at the provider

}  // namespace

OidcLogins::OidcLogins(AuthService& auth, SqliteStore& store, HttpClient& http,
                       const std::vector<OidcProviderConfig>& providers, const std::string& public_url)
    : auth_(auth), store_(store) {
  for (const auto& p : providers) parties_.push_back(std::make_unique<oidc::RelyingParty>(p, http, public_url));
}

std::vector<std::pair<std::string, std::string>> OidcLogins::providers() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& rp : parties_) out.emplace_back(rp->config().name, rp->config().display_name);
  return out;
}

std::string OidcLogins::end_session_url(const AuthContext& ctx) const {
  if (!ctx.session) return {};
  for (const auto& rp : parties_)
    if (rp->config().name == ctx.session->provider) return rp->end_session_url(ctx.session->oidc.id_token);
  return {};
}

std::vector<CoreRoute> OidcLogins::routes() {
  // Each handler owns its request in its own frame (it may outlive a 504).
  std::vector<CoreRoute> out;
  for (auto& party : parties_) {
    oidc::RelyingParty* rp = party.get();
    const std::string base = "/auth/oidc/" + rp->config().name;
    out.push_back({{.method = "GET", .path = base + "/start", .authenticate = false},
                   [this, rp](CoreRequest req) -> Task<Response> {
                     co_return co_await start(*rp, req.in, req.query);
                   }});
    out.push_back({{.method = "GET", .path = base + "/callback", .authenticate = false},
                   [this, rp](CoreRequest req) -> Task<Response> {
                     co_return co_await callback(*rp, req.in, req.query);
                   }});
    // Server to server: no browser, so no CSRF; the logout token is the proof.
    RouteSpec logout{.method = "POST", .path = base + "/backchannel-logout", .csrf = Csrf::none,
                     .authenticate = false, .accepts = {"application/x-www-form-urlencoded"}};
    out.push_back({std::move(logout), [this, rp](CoreRequest req) -> Task<Response> {
                     co_return co_await backchannel_logout(*rp, req.in);
                   }});
  }
  return out;
}

Task<Response> OidcLogins::start(oidc::RelyingParty& rp, IncomingRequest& in, Query& query) {
  const std::string next = is_safe_next(query["next"]) ? query["next"] : "/";
  const std::string state = auth::random_token(32);
  const std::string nonce = auth::random_token(32);
  const std::string verifier = auth::random_token(32);  // 43 characters, RFC 7636 §4.1
  const std::string browser = auth::random_token(32);
  const std::int64_t now = unix_seconds();
  std::vector<Statement> statements{
      {"DELETE FROM oidc_pending WHERE created_at < ?1", {now - kLoginLifetime}},
      {"INSERT INTO oidc_pending(state_hash, provider, browser_hash, nonce, code_verifier, next, created_at) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
       {auth::sha256_hex(state), rp.config().name, auth::sha256_hex(browser), nonce, verifier, next, now}}};
  co_await store_.transaction(std::move(statements));
  const std::string location = co_await rp.authorization_url(state, nonce, auth::sha256_base64url(verifier));
  Response r = redirect_response(location);
  r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) + "=" + browser +
                                           "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=" +
                                           std::to_string(kLoginLifetime));
  co_return r;
}

Task<Response> OidcLogins::callback(oidc::RelyingParty& rp, IncomingRequest& in, Query& query) {
  const std::string& id = in.request_id;
  if (!query["error"].empty()) {
    log::warn("oidc", "provider returned an error", {{"provider", rp.config().name}, {"error", query["error"]}});
    co_return error_response(400, "oidc_error", "the provider refused the sign-in (" + query["error"] + ")", id);
  }
  const std::string state = query["state"];
  const std::string code = query["code"];
  // RFC 9207: a provider that names itself must be the one this login went to (mix-up attacks).
  if (query.count("iss") && query["iss"] != rp.config().issuer)
    co_return error_response(400, "oidc_state", "the answer comes from another provider", id);
  const std::string* cookies = in.header("cookie");
  const std::string browser = cookies ? cookie_value(*cookies, kLoginCookie) : std::string();
  if (state.empty() || code.empty() || browser.empty())
    co_return error_response(400, "oidc_state", "no sign-in in progress in this browser", id);

  // Consumed whatever happens next: a state serves once.
  std::vector<Statement> take{
      {"SELECT provider, browser_hash, nonce, code_verifier, next, created_at FROM oidc_pending WHERE state_hash = ?1",
       {auth::sha256_hex(state)}},
      {"DELETE FROM oidc_pending WHERE state_hash = ?1", {auth::sha256_hex(state)}}};
  auto rows = co_await store_.transaction(std::move(take));
  if (rows[0].rows.empty()) co_return error_response(400, "oidc_state", "unknown or used sign-in state", id);
  const auto& row = rows[0].rows[0];
  const bool same_browser = auth::equal_constant_time(std::get<std::string>(row[1]), auth::sha256_hex(browser));
  if (std::get<std::string>(row[0]) != rp.config().name || !same_browser ||
      unix_seconds() - std::get<std::int64_t>(row[5]) > kLoginLifetime)
    co_return error_response(400, "oidc_state", "this sign-in was started elsewhere or has expired", id);
  const std::string nonce = std::get<std::string>(row[2]);
  const std::string verifier = std::get<std::string>(row[3]);
  const std::string next = std::get<std::string>(row[4]);

  oidc::Login login = co_await rp.complete(code, verifier, nonce);
  FederatedProfile profile = oidc::map_claims(rp.config(), login.claims);
  Account account = co_await auth_.accounts().link_federated(rp.config().name, login.subject, profile);
  if (!account.enabled) {
    log::warn("audit", "login refused: account disabled", {{"provider", rp.config().name}, {"request_id", id}});
    co_return error_response(403, "account_disabled", "this account is disabled", id);
  }
  if (cookies) {
    const std::string old = cookie_value(*cookies, kSessionCookie);
    if (!old.empty()) co_await auth_.sessions().destroy(old);
  }
  const OidcSessionInfo info{login.sid, login.subject, login.id_token, login.refresh_token};
  const std::string session_cookie = co_await auth_.open_session(account, rp.config().name, &info);
  log::info("audit", "login", {{"subject", "u-" + std::to_string(account.id)}, {"provider", rp.config().name},
                               {"remote", in.remote}, {"request_id", id}});
  Response r = redirect_response(next);
  r.headers.emplace_back("Set-Cookie", session_cookie);
  r.headers.emplace_back("Set-Cookie", std::string(kLoginCookie) + "=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
  co_return r;
}

Task<Response> OidcLogins::backchannel_logout(oidc::RelyingParty& rp, IncomingRequest& in) {
  auto form = parse_form(in.body);
  const std::string token = form ? (*form)["logout_token"] : std::string();
  if (token.empty()) co_return error_response(400, "invalid_request", "logout_token is required", in.request_id);
  oidc::LogoutRequest request = co_await rp.check_logout_token(token);
  const int ended = co_await auth_.sessions().destroy_federated(rp.config().name, request.sid, request.sub);
  log::info("audit", "back-channel logout", {{"provider", rp.config().name}, {"sessions_ended", ended},
                                              {"request_id", in.request_id}});
  co_return Response::json(boost::json::object{{"sessions_ended", ended}});
}

}  // namespace passerelle
