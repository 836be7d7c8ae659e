// A login in progress (state, nonce, PKCE verifier, next) travels in a sealed, short-lived
// __Host- cookie: an anonymous start writes nothing to the store. The callback consumes the state
// once (an in-memory set remembers used states until they expire), so a replayed callback, even
// with the cookie, is refused.
#include "auth/oidc/oidc_logins.hpp"

#include "auth/auth_routes.hpp"
#include "auth/auth_service.hpp"
#include "auth/crypto.hpp"
#include "auth/oidc/claims.hpp"
#include "auth/oidc/pending_login.hpp"
#include "http/form.hpp"
#include "http/responses.hpp"
#include "log/log.hpp"
#include "orgs/organisations.hpp"
#include "util/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace passerelle {

namespace {

constexpr const char* kLoginCookie = "__Host-passerelle-oidc";
constexpr std::int64_t kLoginLifetime = 600;  // seconds to complete a sign-in at the provider

// A refused callback: logged with its reason, answered 400.
[[noreturn]] void refuse_login(const oidc::RelyingParty& rp, const std::string& reason,
                               const std::string& public_message, const std::string& request_id) {
  log::warn("oidc", "login refused",
            {{"provider", rp.config().name}, {"reason", reason}, {"request_id", request_id}});
  throw HttpError(400, "oidc_state", public_message);
}

std::string login_cookie(const std::string& value, std::int64_t max_age) {
  return std::string(kLoginCookie) + "=" + value +
         "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=" + std::to_string(max_age);
}

}  // namespace

OidcLogins::OidcLogins(AuthService& auth, Store& store, HttpClient& http,
                       const std::vector<OidcProviderConfig>& providers,
                       const std::string& public_url)
    : auth_(auth), store_(store) {
  for (const auto& p : providers)
    parties_.push_back(std::make_unique<oidc::RelyingParty>(p, http, public_url));
}

std::vector<std::pair<std::string, std::string>> OidcLogins::providers() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& rp : parties_) out.emplace_back(rp->config().name, rp->config().display_name);
  return out;
}

std::string OidcLogins::end_session_url(const AuthContext& ctx) const {
  if (!ctx.session) return {};
  for (const auto& rp : parties_)
    if (rp->config().name == ctx.session->provider)
      return rp->end_session_url(ctx.session->oidc.id_token);
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
    RouteSpec logout{.method = "POST",
                     .path = base + "/backchannel-logout",
                     .csrf = Csrf::none,
                     .authenticate = false,
                     .accepts = {"application/x-www-form-urlencoded"}};
    out.push_back({std::move(logout), [this, rp](CoreRequest req) -> Task<Response> {
                     co_return co_await backchannel_logout(*rp, req.in);
                   }});
  }
  return out;
}

Task<void> OidcLogins::discover_all() {
  auto executor = co_await boost::asio::this_coro::executor;
  std::vector<oidc::RelyingParty*> waiting;
  for (auto& rp : parties_) waiting.push_back(rp.get());
  auto pause = std::chrono::seconds(15);
  for (;;) {
    std::vector<oidc::RelyingParty*> failed;
    for (auto* rp : waiting)
      if (!co_await rp->discover()) failed.push_back(rp);  // discover() logged why
    if (failed.empty()) co_return;
    waiting = std::move(failed);
    boost::asio::steady_timer timer(executor, pause);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    pause = std::min(pause * 2, std::chrono::seconds(600));
  }
}

Task<Response> OidcLogins::start(oidc::RelyingParty& rp, IncomingRequest& in, Query& query) {
  oidc::PendingLogin pending;
  pending.provider = rp.config().name;
  pending.state = auth::random_token(32);
  pending.nonce = auth::random_token(32);
  pending.verifier = auth::random_token(32);  // 43 characters, RFC 7636 §4.1
  pending.next = is_safe_next(query["next"]) ? query["next"] : "/";
  pending.expires_at = unix_seconds() + kLoginLifetime;
  const std::string location = co_await rp.authorization_url(
      pending.state, pending.nonce, auth::sha256_base64url(pending.verifier));
  Response r = redirect_response(location);
  r.headers.emplace_back(
      "Set-Cookie",
      login_cookie(oidc::seal_pending_login(pending, auth_.secrets()), kLoginLifetime));
  co_return r;
}

Task<Response> OidcLogins::callback(oidc::RelyingParty& rp, IncomingRequest& in, Query& query) {
  const std::string& id = in.request_id;
  if (!query["error"].empty()) {
    log::warn("oidc", "login refused",
              {{"provider", rp.config().name},
               {"reason", "the provider returned an error"},
               {"error", query["error"]},
               {"request_id", id}});
    throw HttpError(400, "oidc_error", "the provider refused the sign-in (" + query["error"] + ")");
  }
  const std::string state = query["state"];
  const std::string code = query["code"];
  // RFC 9207: a provider that names itself must be the one this login went to (mix-up attacks).
  if (query.count("iss") && query["iss"] != rp.config().issuer)
    refuse_login(rp, "the answer names another issuer", "the answer comes from another provider",
                 id);
  const std::string* cookies = in.header("cookie");
  const std::string sealed = cookies ? cookie_value(*cookies, kLoginCookie) : std::string();
  if (state.empty() || code.empty() || sealed.empty())
    refuse_login(rp, "no state, code or sign-in cookie", "no sign-in in progress in this browser",
                 id);
  const auto pending = oidc::open_pending_login(sealed, auth_.secrets());
  if (!pending)
    refuse_login(rp, "unreadable sign-in cookie", "no sign-in in progress in this browser", id);
  const std::int64_t now = unix_seconds();
  if (pending->provider != rp.config().name || !auth::equal_constant_time(pending->state, state))
    refuse_login(rp, "the state is not the one of this browser",
                 "this sign-in was started elsewhere or has expired", id);
  if (now > pending->expires_at)
    refuse_login(rp, "sign-in expired", "this sign-in was started elsewhere or has expired", id);
  // Consumed whatever happens next: a state serves once.
  if (!used_states_.first_use(auth::sha256_hex(state), pending->expires_at, now))
    refuse_login(rp, "state already used (replayed callback)", "unknown or used sign-in state", id);
  const std::string& nonce = pending->nonce;
  const std::string& verifier = pending->verifier;
  const std::string& next = pending->next;

  oidc::Login login = co_await rp.complete(code, verifier, nonce);
  FederatedProfile profile = oidc::map_claims(rp.config(), login.claims);
  Account account =
      co_await auth_.accounts().link_federated(rp.config().name, login.subject, profile);
  if (!account.enabled) {
    log::warn("audit", "login refused: account disabled",
              {{"provider", rp.config().name}, {"request_id", id}});
    throw HttpError(403, "account_disabled", "this account is disabled");
  }
  // An invitation waiting for the address the provider vouches for joins its organisation.
  if (profile.email_verified) {
    std::string email = profile.email;
    const std::string joined =
        co_await take_invitation_by_email(store_, &auth_.caches(), account, std::move(email));
    if (!joined.empty())
      log::info("audit", "invitation taken at a federated login",
                {{"subject", "u-" + std::to_string(account.id)},
                 {"provider", rp.config().name},
                 {"organisation", joined},
                 {"request_id", id}});
  }
  if (cookies) {
    const std::string old = cookie_value(*cookies, kSessionCookie);
    if (!old.empty()) co_await auth_.sessions().destroy(old);
  }
  const OidcSessionInfo info{login.sid, login.subject, login.id_token, login.refresh_token};
  const std::string session_cookie = co_await auth_.open_session(account, rp.config().name, &info);
  log::info("audit", "login",
            {{"subject", "u-" + std::to_string(account.id)},
             {"provider", rp.config().name},
             {"remote", in.remote},
             {"request_id", id}});
  Response r = redirect_response(next);
  r.headers.emplace_back("Set-Cookie", session_cookie);
  r.headers.emplace_back("Set-Cookie", login_cookie("", 0));
  co_return r;
}

Task<Response> OidcLogins::backchannel_logout(oidc::RelyingParty& rp, IncomingRequest& in) {
  auto form = parse_form(in.body);
  const std::string token = form ? (*form)["logout_token"] : std::string();
  if (token.empty()) {
    log::warn("oidc", "logout token refused",
              {{"provider", rp.config().name},
               {"reason", "no logout_token"},
               {"request_id", in.request_id}});
    throw HttpError(400, "invalid_request", "logout_token is required");
  }
  // check_logout_token() logs its refusals ("logout token refused") and throws HttpError 400.
  oidc::LogoutRequest request = co_await rp.check_logout_token(token);
  const int ended =
      co_await auth_.sessions().destroy_federated(rp.config().name, request.sid, request.sub);
  log::info(
      "audit", "back-channel logout",
      {{"provider", rp.config().name}, {"sessions_ended", ended}, {"request_id", in.request_id}});
  co_return Response::json(boost::json::object{{"sessions_ended", ended}});
}

}  // namespace passerelle
