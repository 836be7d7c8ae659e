// Login by form (browsers) or JSON (scripts), logout everywhere, and the identity of the caller.
#include "auth/auth_routes.hpp"

#include "auth/auth_service.hpp"
#include "http/form.hpp"
#include "http/responses.hpp"
#include "log/log.hpp"
#include "util/job_limit.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

namespace passerelle {

namespace json = boost::json;

namespace {

constexpr const char* kWrongCredentials = "Identifiant ou mot de passe incorrect.";

struct LoginForm {
  std::string username, password, next;
  bool json = false;
};

// The fields of a login body; HttpError 415 without a media type (an empty body), 400 when
// malformed. Other media types never get here (the route accepts these two).
LoginForm read_login(const IncomingRequest& in) {
  const std::string* ct = in.header("content-type");
  const std::string type = ct ? media_type(*ct) : "";
  LoginForm f;
  if (type == "application/json") {
    f.json = true;
    boost::system::error_code ec;
    auto v = json::parse(in.body, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (!o) throw HttpError(400, "bad_request", "the body is not a JSON object");
    auto field = [&](const char* k) {
      const auto* x = o->if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : std::string();
    };
    f.username = field("username");
    f.password = field("password");
    f.next = field("next");
    return f;
  }
  if (type != "application/x-www-form-urlencoded")
    throw HttpError(415, "unsupported_media_type",
                    "send a form or JSON with username and password");
  auto form = parse_form(in.body);
  if (!form) throw HttpError(400, "bad_request", "malformed form body");
  f.username = (*form)["username"];
  f.password = (*form)["password"];
  f.next = (*form)["next"];
  return f;
}

std::string login_page(const std::string& next, const std::string& error,
                       const std::vector<std::pair<std::string, std::string>>& providers) {
  std::string html =
      "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>Connexion - Passerelle</title></head><body>\n<main>\n<h1>Connexion à "
      "Passerelle</h1>\n";
  if (!error.empty()) html += "<p role=\"alert\">" + html_escape(error) + "</p>\n";
  html +=
      "<form method=\"post\" action=\"/auth/login\">\n"
      "<input type=\"hidden\" name=\"next\" value=\"" +
      html_escape(next) +
      "\">\n"
      "<p><label for=\"username\">Identifiant</label><br>"
      "<input id=\"username\" name=\"username\" autocomplete=\"username\" required></p>\n"
      "<p><label for=\"password\">Mot de passe</label><br>"
      "<input id=\"password\" name=\"password\" type=\"password\" "
      "autocomplete=\"current-password\" required></p>\n"
      "<p><button type=\"submit\">Se connecter</button></p>\n</form>\n";
  for (const auto& [name, label] : providers)
    html += "<p><a href=\"/auth/oidc/" + html_escape(name) +
            "/start?next=" + html_escape(url_encode(next)) + "\">Se connecter avec " +
            html_escape(label) + "</a></p>\n";
  html += "</main>\n</body></html>\n";
  return html;
}

Response html_response(std::string body, int status) {
  Response r;
  r.status = status;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(body);
  return r;
}

// GET /auth/login: the form, sending back to `next` (a path of this site) once logged in; or,
// when the portal serves its own login page, a redirect there with the same `next`.
Response login_form(const Providers& providers, const PortalLogin& portal_login, CoreRequest req) {
  const std::string& asked = req.query["next"];
  const std::string next = is_safe_next(asked) ? asked : "/";
  if (portal_login && portal_login()) {
    Response r = redirect_response("/connexion?next=" + url_encode(next));
    r.status = 302;  // a GET answered by another GET, as links to /auth/login expect
    return r;
  }
  return html_response(login_page(next, "", providers), 200);
}

// POST /auth/login, from our own login page (the dispatcher checked the origin).
Task<Response> login(AuthService& auth, const Providers& providers, CoreRequest req) {
  const IncomingRequest& in = req.in;
  const std::string& id = in.request_id;
  const auto form = std::optional<LoginForm>(read_login(in));
  const std::string next = is_safe_next(form->next) ? form->next : "/";
  // Usernames have at most 64 characters: longer ones are not even counted.
  if (form->username.empty() || form->username.size() > 64) {
    if (form->json) throw HttpError(401, "invalid_credentials", "wrong username or password");
    co_return html_response(login_page(next, kWrongCredentials, providers), 401);
  }
  const auto began = LoginThrottle::Clock::now();
  if (auto wait = auth.throttle().begin_attempt(form->username, in.remote, began)) {
    const std::string network = client_network(in.remote, auth.throttle().policy().ipv4_prefix);
    log::warn("audit", "login throttled",
              {{"username", form->username},
               {"remote", in.remote},
               {"network", network},
               {"request_id", id}});
    throw HttpErrorWithHeaders(429, "too_many_attempts", "too many failed logins, try again later",
                               {{"Retry-After", std::to_string(wait->count())}});
  }
  // The attempt already counts as a failure; a success takes it back.
  std::optional<Account> account;
  bool overloaded = false;
  try {
    account = co_await auth.accounts().check_password(form->username, form->password);
  } catch (const PoolFull&) {
    overloaded = true;  // too many checks waiting: answered at once, not queued
  }
  if (overloaded) {
    auth.throttle().attempt_abandoned(form->username, in.remote, began);
    log::warn("auth", "login refused: password checks overloaded", {{"request_id", id}});
    throw HttpErrorWithHeaders(503, "overloaded", "too many logins at once, try again shortly",
                               {{"Retry-After", "1"}});
  }
  if (!account) {
    log::warn("audit", "login failed",
              {{"username", form->username}, {"remote", in.remote}, {"request_id", id}});
    if (form->json) throw HttpError(401, "invalid_credentials", "wrong username or password");
    co_return html_response(login_page(next, kWrongCredentials, providers), 401);
  }
  auth.throttle().attempt_succeeded(form->username, in.remote, began);
  // A fresh id at every login: a session fixed before login is never reused.
  if (const std::string* cookies = in.header("cookie")) {
    const std::string old = cookie_value(*cookies, kSessionCookie);
    if (!old.empty()) co_await auth.sessions().destroy(old);
  }
  const std::string cookie = co_await auth.open_session(*account, "local");
  log::info("audit", "login",
            {{"username", form->username},
             {"provider", "local"},
             {"remote", in.remote},
             {"request_id", id}});
  Response r = form->json ? Response::json(json::object{{"logged_in", true}, {"next", next}})
                          : redirect_response(next);
  r.headers.emplace_back("Set-Cookie", cookie);
  co_return r;
}

// POST /auth/logout: ends the session on the server (the dispatcher checked the CSRF token).
Task<Response> logout(AuthService& auth, const FederatedLogout& federated_logout, CoreRequest req) {
  const IncomingRequest& in = req.in;
  const AuthContext& ctx = req.caller();
  // An API token has no session to end.
  if (!ctx.via_cookie) throw HttpError(401, "unauthenticated", "not logged in");
  const std::string end_session = federated_logout ? federated_logout(ctx) : std::string();
  co_await auth.sessions().destroy(ctx.session_cookie);
  log::info("audit", "logout",
            {{"subject", ctx.identity.subject},
             {"provider", ctx.identity.provider},
             {"remote", in.remote},
             {"request_id", in.request_id}});
  json::object body{{"logged_out", true}};
  if (!end_session.empty()) body["redirect"] = end_session;
  Response r = Response::json(body);
  r.headers.emplace_back("Set-Cookie", AuthService::clear_session_cookie());
  co_return r;
}

// POST /auth/logout-everywhere: ends every session of the caller (the dispatcher checked the
// CSRF token of a cookie session), e.g. after a device was lost.
Task<Response> logout_everywhere(AuthService& auth, CoreRequest req) {
  const IncomingRequest& in = req.in;
  const AuthContext& ctx = req.caller();
  const int ended = co_await auth.sessions().destroy_all_for_user(ctx.user_id);
  log::info("audit", "logout everywhere",
            {{"subject", ctx.identity.subject},
             {"sessions", ended},
             {"remote", in.remote},
             {"request_id", in.request_id}});
  json::object body{{"logged_out", true}, {"sessions_ended", ended}};
  Response r = Response::json(body);
  r.headers.emplace_back("Set-Cookie", AuthService::clear_session_cookie());
  co_return r;
}

// GET /api/me/sessions: the caller's open sessions, without any secret.
Task<Response> my_sessions(AuthService& auth, CoreRequest req) {
  const AuthContext& ctx = req.caller();
  const std::string current = ctx.via_cookie ? Sessions::public_id(ctx.session_cookie) : "";
  auto list = co_await auth.sessions().list_for_user(ctx.user_id);
  json::array sessions;
  for (const auto& s : list)
    sessions.push_back(json::object{{"id", s.id},
                                    {"provider", s.provider},
                                    {"created_at", s.created_at},
                                    {"last_seen", s.last_seen},
                                    {"current", s.id == current}});
  json::object body{{"sessions", std::move(sessions)}};
  co_return Response::json(body);
}

// DELETE /api/me/sessions/{id}: ends one of the caller's sessions; 404 for any other id, so
// that nobody learns whether an id belongs to someone else.
Task<Response> end_my_session(AuthService& auth, CoreRequest req) {
  const IncomingRequest& in = req.in;
  const AuthContext& ctx = req.caller();
  const std::string id = req.path_params["id"];
  const bool ended = co_await auth.sessions().destroy_by_public_id(ctx.user_id, id);
  if (!ended) throw HttpError(404, "not_found", "no such session");
  log::info("audit", "session ended",
            {{"subject", ctx.identity.subject},
             {"session", id},
             {"remote", in.remote},
             {"request_id", in.request_id}});
  const bool own = ctx.via_cookie && Sessions::public_id(ctx.session_cookie) == id;
  json::object body{{"ended", true}};
  Response r = Response::json(body);
  if (own) r.headers.emplace_back("Set-Cookie", AuthService::clear_session_cookie());
  co_return r;
}

// GET /api/me: the caller's identity, and the CSRF token of a cookie session.
Response me(const CoreRequest& req) {
  const AuthContext& ctx = req.caller();
  const Identity& who = ctx.identity;
  json::array roles;
  for (const auto& r : who.roles) roles.emplace_back(r);
  json::object body{
      {"subject", who.subject},    {"display_name", who.display_name},   {"email", who.email},
      {"roles", std::move(roles)}, {"commune_insee", who.commune_insee}, {"siret", who.siret},
      {"provider", who.provider}};
  json::array services;
  for (const auto& s : who.services) services.emplace_back(s);
  body["organisation"] = json::object{{"code", who.organisation},
                                      {"role", who.organisation_role},
                                      {"services", std::move(services)},
                                      {"every_service", who.every_service}};
  if (ctx.session) body["csrf_token"] = ctx.session->csrf_token;
  return Response::json(body);
}

}  // namespace

bool is_safe_next(const std::string& next) {
  // A path of this site: "/x", never "//host", "/\host" or a scheme.
  return next.size() < 2048 && !next.empty() && next[0] == '/' &&
         (next.size() == 1 || (next[1] != '/' && next[1] != '\\')) &&
         next.find_first_of("\r\n\t") == std::string::npos;
}

std::vector<CoreRoute> auth_routes(AuthService& auth, FederatedLogout federated_logout,
                                   Providers providers, PortalLogin portal_login) {
  // Each handler reads these through its route's closure, which the dispatcher keeps.
  std::vector<CoreRoute> routes;
  routes.push_back(
      {{.method = "GET", .path = "/auth/login", .authenticate = false, .immediate = true},
       {},
       [providers, portal_login](CoreRequest& req) {
         return login_form(providers, portal_login, std::move(req));
       }});
  // Login CSRF: only our own login page may post here (same origin; there is no session yet).
  routes.push_back(
      {{.method = "POST",
        .path = "/auth/login",
        .csrf = Csrf::same_origin_only,
        .authenticate = false,
        .accepts = {"application/x-www-form-urlencoded", "application/json"}},
       [&auth, providers](CoreRequest req) { return login(auth, providers, std::move(req)); }});
  // CSRF: the session's token, in X-CSRF-Token or the form's csrf_token field (the default).
  routes.push_back({{.method = "POST",
                     .path = "/auth/logout",
                     .roles = {"*"},
                     .accepts = {"application/x-www-form-urlencoded", "application/json"}},
                    [&auth, federated_logout](CoreRequest req) {
                      return logout(auth, federated_logout, std::move(req));
                    }});
  // The login page of the web app lists these, one button each.
  routes.push_back(
      {{.method = "GET", .path = "/auth/providers", .authenticate = false, .immediate = true},
       {},
       [providers](CoreRequest&) {
         boost::json::array list;
         for (const auto& [name, label] : providers)
           list.push_back(boost::json::object{{"name", name},
                                              {"display_name", label},
                                              {"start", "/auth/oidc/" + name + "/start"}});
         boost::json::object body{{"providers", std::move(list)}};
         return Response::json(body);
       }});
  routes.push_back({{.method = "GET", .path = "/api/me", .roles = {"*"}, .immediate = true},
                    {},
                    [](CoreRequest& req) { return me(req); }});
  // CSRF of the three below: the session's token (the default); bearer tokens need none.
  routes.push_back({{.method = "POST",
                     .path = "/auth/logout-everywhere",
                     .roles = {"*"},
                     .accepts = {"application/x-www-form-urlencoded", "application/json"}},
                    [&auth](CoreRequest req) { return logout_everywhere(auth, std::move(req)); }});
  routes.push_back({{.method = "GET", .path = "/api/me/sessions", .roles = {"*"}},
                    [&auth](CoreRequest req) { return my_sessions(auth, std::move(req)); }});
  routes.push_back({{.method = "DELETE", .path = "/api/me/sessions/{id}", .roles = {"*"}},
                    [&auth](CoreRequest req) { return end_my_session(auth, std::move(req)); }});
  return routes;
}

}  // namespace passerelle
