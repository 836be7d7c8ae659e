// Request dispatch. Plugin handlers run as their own coroutine raced against a deadline, so a
// hung plugin costs its own request a 504 and nothing else.
#include "http/dispatcher.hpp"

#include "auth/crypto.hpp"
#include "http/plugin_call.hpp"
#include "http/responses.hpp"
#include "log/log.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace passerelle {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string media_type(const std::string& content_type) {
  std::string out = content_type.substr(0, content_type.find(';'));
  out.erase(std::remove_if(out.begin(), out.end(), ::isspace), out.end());
  std::transform(out.begin(), out.end(), out.begin(), ::tolower);
  return out;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

Dispatcher::Dispatcher(PluginHost& plugins, MetricsRegistry& metrics, Authenticate authenticate,
                       std::vector<CoreRoute> core_routes)
    : plugins_(plugins), metrics_(metrics), authenticate_(std::move(authenticate)),
      core_routes_(std::move(core_routes)) {}

bool is_same_origin(const IncomingRequest& in) {
  if (const std::string* site = in.header("sec-fetch-site")) return *site == "same-origin";
  const std::string* origin = in.header("origin");
  const std::string* host = in.header("host");
  return origin && host && *origin == "https://" + *host;
}

bool passes_csrf(const IncomingRequest& in, const AuthContext& auth, const std::string& form_token) {
  if (!auth.via_cookie) return true;  // bearer tokens are not sent by browsers on their own
  if (!is_same_origin(in) || !auth.session) return false;
  const std::string* header = in.header("x-csrf-token");
  const std::string& given = header ? *header : form_token;
  return !given.empty() && auth::equal_constant_time(given, auth.session->csrf_token);
}

Task<Response> Dispatcher::handle(IncomingRequest request) {
  try {
    co_return co_await route(request);
  } catch (const HttpError& e) {
    co_return error_response(e.status(), e.code(), e.what(), request.request_id);
  } catch (const std::exception& e) {
    log::error("http", "request failed", {{"request_id", request.request_id}, {"error", e.what()}});
  }
  co_return error_response(500, "internal_error", "internal error, see the log for this request id",
                           request.request_id);
}

Task<Response> Dispatcher::route(IncomingRequest& in) {
  auto url = boost::urls::parse_origin_form(in.target);
  if (!url) throw HttpError(400, "bad_request", "malformed request target");
  const std::string path = url->path();
  const std::string& id = in.request_id;

  const bool state_changing = in.method == "POST" || in.method == "PUT" || in.method == "PATCH" ||
                              in.method == "DELETE";
  std::vector<std::string> core_allowed;
  for (const auto& core : core_routes_) {
    // "/x/*" matches every path below /x/.
    const bool below = core.path.ends_with("/*") && path.size() > core.path.size() - 1 &&
                       path.compare(0, core.path.size() - 1, core.path, 0, core.path.size() - 1) == 0;
    if (core.path != path && !below) continue;
    if (core.method != in.method) {
      core_allowed.push_back(core.method);
      continue;
    }
    std::optional<AuthContext> auth;
    if (core.authenticate) auth = co_await authenticate_(in);
    co_return co_await core.handler(in, auth);
  }
  if (!core_allowed.empty()) {
    Response r = error_response(405, "method_not_allowed", "method " + in.method + " is not allowed here", id);
    r.headers.emplace_back("Allow", join(core_allowed, ", "));
    co_return r;
  }

  const auto table = plugins_.table();
  const auto segments = Router::split(path);
  const auto found = table->router.find(in.method, segments);
  if (found.outcome == Router::Outcome::method_not_allowed) {
    Response r = error_response(405, "method_not_allowed",
                                "method " + in.method + " is not allowed here", id);
    r.headers.emplace_back("Allow", join(found.allowed, ", "));
    co_return r;
  }
  if (found.outcome == Router::Outcome::not_found) {
    if (segments.size() >= 2 && segments[0] == "api") {
      for (const auto& p : table->plugins)
        if (p->info().name == segments[1] && p->state() != LoadedPlugin::State::running)
          co_return error_response(503, "plugin_unavailable",
                                   "the service " + segments[1] + " is unavailable", id);
    }
    co_return error_response(404, "not_found", "no such resource", id);
  }

  const RouteTable::Target& target = table->targets[found.match.id];
  const Route& route = *target.route;

  std::optional<AuthContext> auth = co_await authenticate_(in);
  std::optional<Identity> identity;
  if (auth) identity = auth->identity;
  if (!route.roles.empty()) {
    if (!identity) co_return error_response(401, "unauthenticated", "log in first", id);
    const bool any = std::find(route.roles.begin(), route.roles.end(), "*") != route.roles.end();
    const bool allowed = any || std::any_of(route.roles.begin(), route.roles.end(),
                                            [&](const auto& r) { return identity->has_role(r); });
    if (!allowed) co_return error_response(403, "forbidden", "your role does not allow this", id);
  }

  // CSRF before the plugin runs, for every state change made with a session cookie.
  if (state_changing && auth && !passes_csrf(in, *auth))
    co_return error_response(403, "csrf_failed",
                             "missing or wrong X-CSRF-Token, or a cross-site request", id);

  if (!in.body.empty()) {
    const std::string* ct = in.header("content-type");
    const std::string type = ct ? media_type(*ct) : "";
    if (std::find(route.accepts.begin(), route.accepts.end(), type) == route.accepts.end())
      co_return error_response(415, "unsupported_media_type",
                               "send the body as " + join(route.accepts, " or "), id);
  }

  Request request;
  request.method = in.method;
  request.path = path;
  request.path_params = found.match.params;
  for (auto param : url->params()) request.query[param.key] = param.value;
  for (const auto& [k, v] : in.headers)
    if (k != "cookie" && k != "authorization") request.headers[k] = v;
  request.body = std::move(in.body);
  request.identity = std::move(identity);
  request.request_id = id;
  co_return co_await call_plugin(target, std::move(request));
}

Task<Response> Dispatcher::call_plugin(const RouteTable::Target& target, Request request) {
  const std::string request_id = request.request_id;
  const std::string plugin_name = target.plugin->info().name;
  auto executor = co_await asio::this_coro::executor;
  Task<Response> handler = target.route->handler(std::move(request));
  auto call = PluginCall<Response>::start(executor, target.plugin, std::move(handler), target.timeout);
  PluginOutcome<Response> outcome = co_await call->result();

  auto count = [&](int status) {
    metrics_
        .counter("passerelle_plugin_requests_total", "Requests answered by plugins",
                 "plugin=\"" + plugin_name + "\",status=\"" + std::to_string(status) + "\"")
        .add(1);
  };
  if (outcome.timed_out) {
    log::error("http", "plugin handler timed out",
               {{"request_id", request_id}, {"plugin", plugin_name},
                {"timeout_ms", target.timeout.count()}});
    count(504);
    co_return error_response(504, "plugin_timeout",
                             "the service " + plugin_name + " did not answer in time", request_id);
  }
  if (outcome.error) {
    try {
      std::rethrow_exception(outcome.error);
    } catch (const HttpError& e) {
      count(e.status());
      co_return error_response(e.status(), e.code(), e.what(), request_id);
    } catch (const std::exception& e) {
      log::error("http", "plugin handler failed",
                 {{"request_id", request_id}, {"plugin", plugin_name}, {"error", e.what()}});
    } catch (...) {
      log::error("http", "plugin handler failed",
                 {{"request_id", request_id}, {"plugin", plugin_name}, {"error", "unknown"}});
    }
    count(500);
    co_return error_response(500, "plugin_error",
                             "the service " + plugin_name + " failed; request id " + request_id,
                             request_id);
  }
  count(outcome.value->status);
  co_return std::move(*outcome.value);
}

}  // namespace passerelle
