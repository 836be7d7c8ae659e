// The checks of OpenID Connect Core 1.0 §3.1.3.7 (ID token) and Back-Channel Logout 1.0 §2.6.
// Every refusal is logged with its reason; the user sees a short public message.
#include "auth/oidc/relying_party.hpp"

#include "auth/crypto.hpp"
#include "http/form.hpp"
#include "log/log.hpp"
#include "util/clock.hpp"

#include <boost/json/parse.hpp>

namespace passerelle::oidc {

namespace json = boost::json;

namespace {

std::string text(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t number(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
  if (v && v->is_double()) return static_cast<std::int64_t>(v->as_double());
  return -1;
}

bool audience_has(const json::object& claims, const std::string& client_id) {
  const auto* aud = claims.if_contains("aud");
  if (!aud) return false;
  if (aud->is_string()) return aud->as_string() == client_id;
  if (aud->is_array())
    for (const auto& a : aud->as_array())
      if (a.is_string() && a.as_string() == client_id) return true;
  return false;
}

std::size_t audience_count(const json::object& claims) {
  const auto* aud = claims.if_contains("aud");
  return aud && aud->is_array() ? aud->as_array().size() : 1;
}

[[noreturn]] void refuse(const std::string& provider, const std::string& reason, int status = 400) {
  log::warn("oidc", "login refused", {{"provider", provider}, {"reason", reason}});
  throw HttpError(status, "oidc_refused", "the sign-in could not be completed: " + reason);
}

std::string header_value(const OutboundResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return {};
}

}  // namespace

std::string check_id_token_claims(const json::object& c, const OidcProviderConfig& config,
                                  const std::string& nonce, std::int64_t now) {
  const auto leeway = RelyingParty::kLeeway.count();
  if (text(c, "iss") != config.issuer) return "wrong issuer";
  if (!audience_has(c, config.client_id)) return "wrong audience";
  if (audience_count(c) > 1 && text(c, "azp") != config.client_id) return "wrong authorized party";
  const std::int64_t exp = number(c, "exp");
  const std::int64_t iat = number(c, "iat");
  if (exp < 0 || now > exp + leeway) return "expired ID token";
  if (iat < 0 || iat > now + leeway || now - iat > 600 + leeway) return "ID token issued at an unlikely time";
  if (text(c, "nonce").empty() || !auth::equal_constant_time(text(c, "nonce"), nonce)) return "wrong nonce";
  if (text(c, "sub").empty()) return "no subject";
  return {};
}

std::string check_logout_token_claims(const json::object& c, const OidcProviderConfig& config, std::int64_t now) {
  const auto leeway = RelyingParty::kLeeway.count();
  if (text(c, "iss") != config.issuer) return "logout token: wrong issuer";
  if (!audience_has(c, config.client_id)) return "logout token: wrong audience";
  const std::int64_t iat = number(c, "iat");
  if (iat < 0 || iat > now + leeway || now - iat > 600 + leeway) return "logout token: unlikely issue time";
  const std::int64_t exp = number(c, "exp");
  if (exp < 0) return "logout token: no expiry";
  if (now > exp + leeway) return "logout token: expired";
  const auto* events = c.if_contains("events");
  if (!events || !events->is_object() ||
      !events->as_object().contains("http://schemas.openid.net/event/backchannel-logout"))
    return "logout token: no back-channel logout event";
  if (c.contains("nonce")) return "logout token: carries a nonce";
  if (text(c, "sid").empty() && text(c, "sub").empty()) return "logout token: names no session";
  return {};
}

RelyingParty::RelyingParty(OidcProviderConfig config, HttpClient& http, const std::string& public_url)
    : config_(std::move(config)), http_(http), public_url_(public_url) {}

std::string RelyingParty::redirect_uri() const {
  return public_url_ + "/auth/oidc/" + config_.name + "/callback";
}

Task<json::object> RelyingParty::fetch_json(std::string url, std::string bearer) {
  OutboundRequest request;
  request.url = std::move(url);
  request.headers.emplace_back("Accept", "application/json");
  if (!bearer.empty()) request.headers.emplace_back("Authorization", "Bearer " + bearer);
  auto response = co_await http_.fetch(std::move(request));
  if (response.status != 200) refuse(config_.name, "the provider answered " + std::to_string(response.status), 502);
  boost::system::error_code ec;
  auto v = json::parse(response.body, ec);
  if (ec || !v.is_object()) refuse(config_.name, "the provider sent malformed JSON", 502);
  co_return std::move(v.as_object());
}

Task<Discovery> RelyingParty::discovery() {
  {
    std::lock_guard lock(mutex_);
    if (discovery_) co_return *discovery_;
  }
  auto doc = co_await fetch_json(config_.issuer + "/.well-known/openid-configuration", "");
  Discovery d{text(doc, "issuer"), text(doc, "authorization_endpoint"), text(doc, "token_endpoint"),
              text(doc, "jwks_uri"), text(doc, "userinfo_endpoint"), text(doc, "end_session_endpoint")};
  // §4.3 of Discovery: the issuer in the document must be the one configured.
  if (d.issuer != config_.issuer) refuse(config_.name, "discovery names another issuer", 502);
  if (d.authorization_endpoint.empty() || d.token_endpoint.empty() || d.jwks_uri.empty())
    refuse(config_.name, "discovery lacks an endpoint", 502);
  std::lock_guard lock(mutex_);
  discovery_ = d;
  co_return d;
}

Task<void> RelyingParty::refresh_keys(bool force) {
  {
    std::lock_guard lock(mutex_);
    // An unknown kid refetches at most once every 10 s: a flood of forged tokens cannot make
    // the gateway hammer the provider, and a real rotation is picked up at once.
    const auto now = std::chrono::steady_clock::now();
    // Keys are also reloaded every hour, so that a key the provider withdrew stops verifying.
    if (keys_ && !force && now - keys_loaded_ < std::chrono::hours(1)) co_return;
    if (keys_ && now - last_forced_refresh_ < std::chrono::seconds(10)) co_return;
    if (force) last_forced_refresh_ = now;
  }
  const Discovery d = co_await discovery();
  OutboundRequest request;
  request.url = d.jwks_uri;
  auto response = co_await http_.fetch(std::move(request));
  auto parsed = response.status == 200 ? jose::KeySet::parse(response.body) : std::nullopt;
  if (!parsed) refuse(config_.name, "the provider's keys are unreadable", 502);
  std::lock_guard lock(mutex_);
  keys_ = std::make_shared<const jose::KeySet>(std::move(*parsed));
  keys_loaded_ = std::chrono::steady_clock::now();
  log::info("oidc", "provider keys loaded", {{"provider", config_.name}, {"keys", keys_->size()}});
}

Task<jose::Token> RelyingParty::verify(std::string compact) {
  co_await refresh_keys(false);
  std::shared_ptr<const jose::KeySet> keys;
  {
    std::lock_guard lock(mutex_);
    keys = keys_;
  }
  auto result = keys->verify(compact, config_.algorithms);
  if (!result.token && result.unknown_kid) {
    co_await refresh_keys(true);  // the provider may have rotated its keys
    {
      std::lock_guard lock(mutex_);
      keys = keys_;
    }
    result = keys->verify(compact, config_.algorithms);
  }
  if (!result.token) refuse(config_.name, result.error);
  co_return std::move(*result.token);
}

Task<std::string> RelyingParty::authorization_url(std::string state, std::string nonce, std::string challenge) {
  const Discovery d = co_await discovery();
  std::string scope;
  for (const auto& s : config_.scopes) scope += (scope.empty() ? "" : " ") + s;
  std::string url = d.authorization_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "response_type=code&client_id=" + url_encode(config_.client_id) +
         "&redirect_uri=" + url_encode(redirect_uri()) + "&scope=" + url_encode(scope) +
         "&state=" + url_encode(state) + "&nonce=" + url_encode(nonce) +
         "&code_challenge=" + url_encode(challenge) + "&code_challenge_method=S256";
  co_return url;
}

Task<Login> RelyingParty::complete(std::string code, std::string verifier, std::string nonce) {
  const Discovery d = co_await discovery();
  OutboundRequest request;
  request.method = "POST";
  request.url = d.token_endpoint;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.headers.emplace_back("Accept", "application/json");
  request.body = "grant_type=authorization_code&code=" + url_encode(code) +
                 "&redirect_uri=" + url_encode(redirect_uri()) + "&code_verifier=" + url_encode(verifier);
  if (config_.client_auth == "client_secret_post") {
    request.body += "&client_id=" + url_encode(config_.client_id) + "&client_secret=" + url_encode(config_.client_secret);
  } else {
    // RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
    const std::string credentials = url_encode(config_.client_id) + ":" + url_encode(config_.client_secret);
    std::string basic = auth::base64url(credentials);
    std::replace(basic.begin(), basic.end(), '-', '+');
    std::replace(basic.begin(), basic.end(), '_', '/');
    while (basic.size() % 4) basic += '=';
    request.headers.emplace_back("Authorization", "Basic " + basic);
  }
  auto response = co_await http_.fetch(std::move(request));
  boost::system::error_code ec;
  auto body = json::parse(response.body, ec);
  if (response.status != 200 || ec || !body.is_object()) {
    const std::string detail = !ec && body.is_object() ? text(body.as_object(), "error") : std::string();
    refuse(config_.name, "the code was refused" + (detail.empty() ? std::string() : " (" + detail + ")"));
  }
  const auto& tokens = body.as_object();
  Login login;
  login.id_token = text(tokens, "id_token");
  login.refresh_token = text(tokens, "refresh_token");
  const std::string access_token = text(tokens, "access_token");
  if (login.id_token.empty()) refuse(config_.name, "no ID token");

  jose::Token id = co_await verify(login.id_token);
  const auto& c = id.claims;
  if (auto why = check_id_token_claims(c, config_, nonce, unix_seconds()); !why.empty()) refuse(config_.name, why);
  login.subject = text(c, "sub");
  login.sid = text(c, "sid");
  login.claims = c;

  if (config_.userinfo && !d.userinfo_endpoint.empty() && !access_token.empty()) {
    OutboundRequest info;
    info.url = d.userinfo_endpoint;
    info.headers.emplace_back("Authorization", "Bearer " + access_token);
    auto r = co_await http_.fetch(std::move(info));
    if (r.status != 200) refuse(config_.name, "userinfo answered " + std::to_string(r.status), 502);
    json::object extra;
    if (header_value(r, "content-type").rfind("application/jwt", 0) == 0) {
      // ProConnect signs its userinfo answer.
      jose::Token signed_info = co_await verify(r.body);
      extra = std::move(signed_info.claims);
    } else {
      boost::system::error_code jec;
      auto v = json::parse(r.body, jec);
      if (jec || !v.is_object()) refuse(config_.name, "malformed userinfo", 502);
      extra = std::move(v.as_object());
    }
    // OpenID Connect Core §5.3.2: userinfo must speak of the same subject.
    if (text(extra, "sub") != login.subject) refuse(config_.name, "userinfo names another subject");
    for (auto& kv : extra) login.claims[kv.key()] = std::move(kv.value());
  }
  co_return login;
}

Task<LogoutRequest> RelyingParty::check_logout_token(std::string token) {
  jose::Token t = co_await verify(std::move(token));
  const auto& c = t.claims;
  if (auto why = check_logout_token_claims(c, config_, unix_seconds()); !why.empty()) refuse(config_.name, why);
  LogoutRequest request{text(c, "sid"), text(c, "sub")};
  co_return request;
}

std::string RelyingParty::end_session_url(const std::string& id_token) const {
  std::lock_guard lock(mutex_);
  if (!discovery_ || discovery_->end_session_endpoint.empty() || id_token.empty()) return {};
  std::string url = discovery_->end_session_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  return url + "id_token_hint=" + url_encode(id_token) + "&post_logout_redirect_uri=" + url_encode(public_url_ + "/") +
         "&client_id=" + url_encode(config_.client_id);
}

}  // namespace passerelle::oidc
