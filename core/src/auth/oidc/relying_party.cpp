// The checks of OpenID Connect Core 1.0 §3.1.3.7 (ID token) and Back-Channel Logout 1.0 §2.6.
// Every refusal is logged with its reason; the user sees a short public message.
#include "auth/oidc/relying_party.hpp"

#include "auth/crypto.hpp"
#include "http/form.hpp"
#include "log/log.hpp"
#include "util/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

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
  // A double past the range of int64 cannot be converted (undefined behaviour): unusable.
  if (v && v->is_double() && v->as_double() >= 0 && v->as_double() < 9.2e18)
    return static_cast<std::int64_t>(v->as_double());
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

constexpr const char* kLoginRefused = "login refused";
constexpr const char* kLogoutRefused = "logout token refused";

// Logs `what` ("login refused", "logout token refused") with the reason, and answers it.
[[noreturn]] void refuse(const std::string& provider, const std::string& reason, int status = 400,
                         const char* what = kLoginRefused) {
  log::warn("oidc", what, {{"provider", provider}, {"reason", reason}});
  if (std::string_view(what) == kLogoutRefused)
    throw HttpError(status, "invalid_request", "the logout token is refused: " + reason);
  throw HttpError(status, "oidc_refused", "the sign-in could not be completed: " + reason);
}

// A failed fetch of discovery or keys, with what the log should say.
class FetchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// http:// is accepted on a loopback host only (tests). Read from the text itself: Boost.URL 1.81
// takes "http://127.0.0.1.evil.example/" for the host 127.0.0.1.
bool is_loopback_http(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || lower(url.substr(0, kScheme.size())) != kScheme) return false;
  const std::string rest = url.substr(kScheme.size());
  std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string::npos) return false;
  std::string host = authority;
  if (const auto colon = authority.rfind(':');
      colon != std::string::npos && authority.back() != ']') {
    host = authority.substr(0, colon);
    const std::string port = authority.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) return false;
  }
  host = lower(host);
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
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
  if (iat < 0 || iat > now + leeway || now - iat > 600 + leeway)
    return "ID token issued at an unlikely time";
  if (text(c, "nonce").empty() || !auth::equal_constant_time(text(c, "nonce"), nonce))
    return "wrong nonce";
  if (text(c, "sub").empty()) return "no subject";
  return {};
}

std::string check_logout_token_claims(const json::object& c, const OidcProviderConfig& config,
                                      std::int64_t now) {
  const auto leeway = RelyingParty::kLeeway.count();
  if (text(c, "iss") != config.issuer) return "logout token: wrong issuer";
  if (!audience_has(c, config.client_id)) return "logout token: wrong audience";
  const std::int64_t iat = number(c, "iat");
  if (iat < 0 || iat > now + leeway || now - iat > 600 + leeway)
    return "logout token: unlikely issue time";
  const std::int64_t exp = number(c, "exp");
  if (exp < 0) return "logout token: no expiry";
  if (now > exp + leeway) return "logout token: expired";
  // §2.4: the member of the event is a JSON object (an empty one).
  const auto* events = c.if_contains("events");
  const auto* event =
      events && events->is_object()
          ? events->as_object().if_contains("http://schemas.openid.net/event/backchannel-logout")
          : nullptr;
  if (!event || !event->is_object()) return "logout token: no back-channel logout event";
  if (c.contains("nonce")) return "logout token: carries a nonce";
  if (text(c, "jti").empty()) return "logout token: no jti";
  if (text(c, "sid").empty() && text(c, "sub").empty()) return "logout token: names no session";
  return {};
}

std::string check_logout_token_header(const json::object& header) {
  const auto* typ = header.if_contains("typ");
  if (!typ) return {};
  // RFC 7515 §4.1.9: a media type, compared without case, "application/" optional.
  const std::string t = typ->is_string() ? lower(std::string(typ->as_string())) : std::string();
  if (t == "logout+jwt" || t == "application/logout+jwt") return {};
  return "logout token: typ is not logout+jwt";
}

std::string discovery_url(const std::string& issuer) {
  std::string base = issuer;
  if (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/.well-known/openid-configuration";
}

std::string check_discovery(const Discovery& d, const std::string& issuer) {
  // Discovery §4.3: the issuer in the document must be exactly the one configured.
  if (d.issuer != issuer)
    return "discovery names another issuer (\"" + d.issuer + "\" instead of \"" + issuer + "\")";
  if (d.authorization_endpoint.empty() || d.token_endpoint.empty() || d.jwks_uri.empty())
    return "discovery lacks an endpoint (authorization, token or jwks_uri)";
  const std::pair<const char*, const std::string*> endpoints[] = {
      {"authorization_endpoint", &d.authorization_endpoint},
      {"token_endpoint", &d.token_endpoint},
      {"jwks_uri", &d.jwks_uri},
      {"userinfo_endpoint", &d.userinfo_endpoint},
      {"end_session_endpoint", &d.end_session_endpoint}};
  for (const auto& [name, url] : endpoints) {
    if (url->empty()) continue;
    auto parsed = boost::urls::parse_absolute_uri(*url);
    const std::string scheme = parsed ? lower(std::string(parsed->scheme())) : std::string();
    const bool ok = parsed && parsed->has_authority() && !parsed->host().empty() &&
                    (scheme == "https" || (scheme == "http" && is_loopback_http(*url)));
    if (!ok) return std::string("discovery gives an endpoint that is not https:// (") + name + ")";
  }
  return {};
}

// The refresh under way: callers that come meanwhile wait on a timer that the leader cancels
// (on the waiter's own executor: timers are not thread-safe).
struct RelyingParty::Flight {
  std::mutex mutex;
  bool done = false;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> waiters;

  void finish() {
    std::vector<std::shared_ptr<boost::asio::steady_timer>> woken;
    {
      std::lock_guard lock(mutex);
      done = true;
      woken.swap(waiters);
    }
    // An expiry in the past ends a wait under way and one not begun yet alike.
    for (auto& t : woken)
      boost::asio::post(t->get_executor(),
                        [t] { t->expires_at(boost::asio::steady_timer::time_point::min()); });
  }

  Task<void> wait() {
    // Bounded even if the leader never finished (the outbound client has its own deadline).
    auto executor = co_await boost::asio::this_coro::executor;
    auto timer = std::make_shared<boost::asio::steady_timer>(executor, std::chrono::seconds(60));
    {
      std::lock_guard lock(mutex);
      if (done) co_return;
      waiters.push_back(timer);
    }
    co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
};

RelyingParty::RelyingParty(OidcProviderConfig config, HttpClient& http,
                           const std::string& public_url)
    : config_(std::move(config)), http_(http), public_url_(public_url) {}

std::string RelyingParty::redirect_uri() const {
  return public_url_ + "/auth/oidc/" + config_.name + "/callback";
}

Task<json::object> RelyingParty::fetch_json(std::string url) {
  OutboundRequest request;
  request.url = std::move(url);
  request.headers.emplace_back("Accept", "application/json");
  auto response = co_await http_.fetch(std::move(request));
  if (response.status != 200)
    throw FetchError("the provider answered " + std::to_string(response.status));
  boost::system::error_code ec;
  auto v = json::parse(response.body, ec);
  if (ec || !v.is_object()) throw FetchError("the provider sent malformed JSON");
  co_return std::move(v.as_object());
}

std::shared_ptr<const jose::KeySet> RelyingParty::held_keys() const {
  std::lock_guard lock(mutex_);
  return keys_;
}

Task<void> RelyingParty::fetch_discovery_and_keys() {
  std::optional<Discovery> d;
  try {
    auto doc = co_await fetch_json(discovery_url(config_.issuer));
    Discovery fresh{text(doc, "issuer"),
                    text(doc, "authorization_endpoint"),
                    text(doc, "token_endpoint"),
                    text(doc, "jwks_uri"),
                    text(doc, "userinfo_endpoint"),
                    text(doc, "end_session_endpoint")};
    if (auto why = check_discovery(fresh, config_.issuer); !why.empty()) throw FetchError(why);
    d = std::move(fresh);
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    if (!discovery_) throw FetchError(std::string("discovery failed: ") + e.what());
    // The document held stays good enough to reach the keys.
    log::warn("oidc", "discovery refresh failed, keeping the document held",
              {{"provider", config_.name}, {"reason", e.what()}});
    d = discovery_;
  }
  {
    std::lock_guard lock(mutex_);
    discovery_ = d;
  }
  OutboundRequest request;
  request.url = d->jwks_uri;
  auto response = co_await http_.fetch(std::move(request));
  auto parsed = response.status == 200 ? jose::KeySet::parse(response.body) : std::nullopt;
  if (!parsed)
    throw FetchError("the provider's keys are unreadable (status " +
                     std::to_string(response.status) + ")");
  std::lock_guard lock(mutex_);
  keys_ = std::make_shared<const jose::KeySet>(std::move(*parsed));
  keys_loaded_ = Clock::now();
  log::info("oidc", "provider keys loaded", {{"provider", config_.name}, {"keys", keys_->size()}});
}

Task<void> RelyingParty::refresh(bool newer_keys) {
  std::shared_ptr<Flight> flight;
  bool lead = false;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (flight_) {
      flight = flight_;
    } else {
      const bool stale = !discovery_ || !keys_ || now - keys_loaded_ > kKeysMaxAge;
      if (!newer_keys && !stale) co_return;
      if (newer_keys && last_forced_ && now - *last_forced_ < kRefreshInterval) co_return;
      if (last_failure_ && now - *last_failure_ < kRefreshInterval) co_return;
      if (newer_keys) last_forced_ = now;
      flight_ = flight = std::make_shared<Flight>();
      lead = true;
    }
  }
  if (!lead) {
    co_await flight->wait();
    co_return;
  }
  // Ends the flight however this frame ends (a handler cancelled at its deadline included):
  // a flight left open would make every later caller wait for nothing.
  struct Landing {
    RelyingParty* rp;
    std::shared_ptr<Flight> flight;
    ~Landing() {
      {
        std::lock_guard lock(rp->mutex_);
        if (rp->flight_ == flight) rp->flight_.reset();
      }
      flight->finish();
    }
  };
  const Landing landing{this, flight};
  std::string error;
  try {
    co_await fetch_discovery_and_keys();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (error.empty()) co_return;
  bool had_keys = false;
  {
    std::lock_guard lock(mutex_);
    last_failure_ = Clock::now();
    last_error_ = error;
    had_keys = keys_ != nullptr;
  }
  log::warn("oidc",
            had_keys ? "provider refresh failed, keeping the keys held" : "provider unavailable",
            {{"provider", config_.name}, {"issuer", config_.issuer}, {"reason", error}});
}

Task<bool> RelyingParty::discover() {
  co_await refresh(false);
  std::lock_guard lock(mutex_);
  co_return discovery_.has_value();
}

Task<Discovery> RelyingParty::discovery(const char* refused) {
  {
    std::lock_guard lock(mutex_);
    if (discovery_) co_return *discovery_;
  }
  co_await refresh(false);
  std::string reason;
  {
    std::lock_guard lock(mutex_);
    if (discovery_) co_return *discovery_;
    reason = last_error_.empty() ? "the provider is unavailable" : last_error_;
  }
  refuse(config_.name, reason, 502, refused);
}

Task<jose::Token> RelyingParty::verify(std::string compact, const char* refused) {
  // The header is read before anything else: a malformed token never reaches the network.
  if (!jose::peek(compact)) refuse(config_.name, "malformed token", 400, refused);
  co_await refresh(false);  // only when nothing is held yet, or the keys are old
  auto keys = held_keys();
  if (!keys) {
    std::string reason;
    {
      std::lock_guard lock(mutex_);
      reason =
          "the provider's keys are unavailable" + (last_error_.empty() ? "" : ": " + last_error_);
    }
    refuse(config_.name, reason, 502, refused);
  }
  auto result = keys->verify(compact, config_.algorithms);
  if (!result.token && result.unknown_kid) {
    co_await refresh(true);  // the provider may have rotated its keys
    keys = held_keys();
    result = keys->verify(compact, config_.algorithms);
  }
  if (!result.token) refuse(config_.name, result.error, 400, refused);
  co_return std::move(*result.token);
}

Task<std::string> RelyingParty::authorization_url(std::string state, std::string nonce,
                                                  std::string challenge) {
  const Discovery d = co_await discovery(kLoginRefused);
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
  const Discovery d = co_await discovery(kLoginRefused);
  OutboundRequest request;
  request.method = "POST";
  request.url = d.token_endpoint;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.headers.emplace_back("Accept", "application/json");
  request.body = "grant_type=authorization_code&code=" + url_encode(code) +
                 "&redirect_uri=" + url_encode(redirect_uri()) +
                 "&code_verifier=" + url_encode(verifier);
  if (config_.client_auth == "client_secret_post") {
    request.body += "&client_id=" + url_encode(config_.client_id) +
                    "&client_secret=" + url_encode(config_.client_secret);
  } else {
    // RFC 6749 §2.3.1: the id and secret are form-encoded before Basic encoding.
    const std::string credentials =
        url_encode(config_.client_id) + ":" + url_encode(config_.client_secret);
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
    const std::string detail =
        !ec && body.is_object() ? text(body.as_object(), "error") : std::string();
    refuse(config_.name,
           "the code was refused" + (detail.empty() ? std::string() : " (" + detail + ")"));
  }
  const auto& tokens = body.as_object();
  Login login;
  login.id_token = text(tokens, "id_token");
  login.refresh_token = text(tokens, "refresh_token");
  const std::string access_token = text(tokens, "access_token");
  if (login.id_token.empty()) refuse(config_.name, "no ID token");

  jose::Token id = co_await verify(login.id_token, kLoginRefused);
  const auto& c = id.claims;
  if (auto why = check_id_token_claims(c, config_, nonce, unix_seconds()); !why.empty())
    refuse(config_.name, why);
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
      jose::Token signed_info = co_await verify(r.body, kLoginRefused);
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
  jose::Token t = co_await verify(std::move(token), kLogoutRefused);
  const auto& c = t.claims;
  if (auto why = check_logout_token_header(t.header); !why.empty())
    refuse(config_.name, why, 400, kLogoutRefused);
  const std::int64_t now = unix_seconds();
  if (auto why = check_logout_token_claims(c, config_, now); !why.empty())
    refuse(config_.name, why, 400, kLogoutRefused);
  // A logout token serves once (§2.6): its jti is remembered until the token expires.
  const std::int64_t exp = number(c, "exp");  // present: checked above
  if (!used_logout_tokens_.first_use(text(c, "jti"), exp + kLeeway.count(), now))
    refuse(config_.name, "logout token: jti already used (replay)", 400, kLogoutRefused);
  LogoutRequest request{text(c, "sid"), text(c, "sub")};
  co_return request;
}

std::string RelyingParty::end_session_url(const std::string& id_token) const {
  std::lock_guard lock(mutex_);
  if (!discovery_ || discovery_->end_session_endpoint.empty() || id_token.empty()) return {};
  std::string url = discovery_->end_session_endpoint;
  url += url.find('?') == std::string::npos ? '?' : '&';
  return url + "id_token_hint=" + url_encode(id_token) +
         "&post_logout_redirect_uri=" + url_encode(public_url_ + "/") +
         "&client_id=" + url_encode(config_.client_id);
}

}  // namespace passerelle::oidc
