// Request dispatch. A handler that may wait, core or plugin, runs as its own coroutine raced
// against a deadline, so a hung handler costs its own request a 504 and nothing else. What
// waits for nothing (a refusal, an immediate core route with its caller known in memory) is
// answered by start() on the spot, with no coroutine at all.
#include "http/dispatcher.hpp"

#include "attachments/attachment_store.hpp"
#include "auth/crypto.hpp"
#include "auth/roles.hpp"
#include "http/deadline_call.hpp"
#include "http/form.hpp"
#include "http/plugin_call.hpp"
#include "http/responses.hpp"
#include "http/router.hpp"
#include "log/log.hpp"
#include "plugins/plugin_host.hpp"
#include "store/store_error.hpp"
#include "util/text.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <string_view>

namespace passerelle {

namespace asio = boost::asio;

struct Dispatcher::Target {
  RouteSpec spec;
  const CoreRoute* core = nullptr;             // a route of the gateway, or
  const RouteTable::Target* plugin = nullptr;  // a plugin's, owned by Routes::plugins
  std::string label;                           // "GET /api/x/{id}", for metrics and logs
  RouteStats* stats = nullptr;                 // its counters, resolved when the table is built
};

struct Dispatcher::Routes {
  std::shared_ptr<const RouteTable> plugins;  // the table these routes were built from
  Router router;
  std::vector<Target> targets;  // indexed by router ids
  // Plugins not running, whose paths answer 503: their counters, so that the operators see
  // the failures of the plugin rather than of the gateway.
  struct Down {
    std::string name;
    RouteStats* stats;
  };
  std::vector<Down> down;
  bool streams = false;  // a route reads its body as it comes (Route::streams_body)
};

// A request matched to its route whose rest must be awaited: the caller's lookup in the store,
// or a handler that may wait.
struct Dispatcher::Pending {
  std::chrono::steady_clock::time_point started;
  RouteStats* stats = nullptr;
  std::shared_ptr<const Routes> routes;  // held to the end: target points into it
  Entered entered;                       // a plugin route's request, counted (after `routes`)
  RouteEntered in_route;                 // counted in flight on its route until it ends
  const Target* target = nullptr;
  bool look_up = false;  // the caller is not known in memory: the store is asked
  IncomingRequest in;
  std::string path;
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> query;
  std::optional<AuthContext> auth;
  // An upload route's form, once received.
  std::map<std::string, std::string> form;
  std::vector<Attachment> files;
};

namespace {

// An immediate plugin route that takes longer than this has waited: logged (it has no deadline).
constexpr auto kImmediateTooLong = std::chrono::milliseconds(100);

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

bool changes_state(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// Refuses, at start-up, a core route the dispatcher could not apply as declared.
void check_declaration(const RouteSpec& spec) {
  const std::string name = spec.method + " " + spec.path;
  for (const auto& role : spec.roles)
    if (role != "*" && !is_known_role(role))
      throw std::logic_error("route " + name + " names an unknown role \"" + role + "\"");
  if (!spec.authenticate && !spec.roles.empty())
    throw std::logic_error("route " + name + " requires a role but does not authenticate");
  if (!spec.authenticate && changes_state(spec.method) && spec.csrf == Csrf::session_token)
    throw std::logic_error(
        "route " + name +
        " does not authenticate: its CSRF policy must be same_origin_only or none");
}

bool role_allows(const std::vector<std::string>& roles, const Identity& identity) {
  return std::any_of(roles.begin(), roles.end(),
                     [&](const std::string& r) { return r == "*" || identity.has_role(r); });
}

// Whether a state-changing request comes from our own pages: Sec-Fetch-Site same-origin, or
// else an Origin equal to https://<Host>.
bool is_same_origin(const IncomingRequest& in) {
  if (const std::string* site = in.header("sec-fetch-site")) return *site == "same-origin";
  const std::string* origin = in.header("origin");
  const std::string* host = in.header("host");
  return origin && host && *origin == "https://" + *host;
}

// The session's CSRF token as sent: the X-CSRF-Token header, or a form body's csrf_token field
// (a plain HTML form cannot set a header).
std::string csrf_token_of(const IncomingRequest& in) {
  if (const std::string* header = in.header("x-csrf-token")) return *header;
  const std::string* ct = in.header("content-type");
  if (!ct || media_type(*ct) != "application/x-www-form-urlencoded") return {};
  auto form = parse_form(in.body);
  if (!form) return {};
  auto it = form->find("csrf_token");
  return it == form->end() ? std::string() : it->second;
}

void check_csrf(const RouteSpec& spec, const IncomingRequest& in,
                const std::optional<AuthContext>& auth) {
  if (!changes_state(in.method)) return;
  switch (spec.csrf) {
    case Csrf::none:
      return;
    case Csrf::same_origin_only:
      if (!is_same_origin(in)) throw HttpError(403, "csrf_failed", "cross-site request refused");
      return;
    case Csrf::session_token: {
      if (!auth || !auth->via_cookie)
        return;  // bearer tokens are not sent by browsers on their own
      const std::string given = csrf_token_of(in);
      if (!is_same_origin(in) || !auth->session || given.empty() ||
          !auth::equal_constant_time(given, auth->session->csrf_token))
        throw HttpError(403, "csrf_failed",
                        "missing or wrong X-CSRF-Token, or a cross-site request");
      return;
    }
  }
}

// Whether the router and a handler read the path alike: no encoded slash (one segment as sent,
// two once decoded), no NUL (a C string ends there), no backslash (some servers read it as a
// slash), no dot segment (a handler building a file path or an upstream URL from a parameter
// would climb out of it).
bool is_plain_path(std::string_view encoded, const std::string& decoded,
                   const std::vector<std::string>& segments) {
  for (auto p = encoded.find('%'); p != std::string_view::npos; p = encoded.find('%', p + 1))
    if (encoded.substr(p + 1, 2) == "2f" || encoded.substr(p + 1, 2) == "2F") return false;
  if (decoded.find_first_of(std::string_view("\\\0", 2)) != std::string::npos) return false;
  return std::none_of(segments.begin(), segments.end(),
                      [](const std::string& s) { return s == "." || s == ".."; });
}

// A target of slashes and unreserved characters alone (RFC 3986 §2.3), as most are: its own
// decoded path, with no query, which is what Boost.URL's parse gives for it at ten times the
// cost (checked on two million such targets). Anything else is parsed.
bool is_bare_path(std::string_view target) {
  return !target.empty() && target.front() == '/' &&
         std::all_of(target.begin(), target.end(),
                     [](char c) { return c == '/' || is_unreserved(c); });
}

// Beast writes header names and values as given: a CR or LF there would end the header early
// and let the rest (from a query parameter, say) forge headers or a second response. It
// throws on a field of 64 KiB or more, in the session, which then ends with no answer.
constexpr std::size_t kMaxField = 60 * 1024;
bool is_token(std::string_view s) {
  // RFC 9110 §5.6.2's tchar, as a table: no locale call per character.
  static constexpr auto kTchar = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
    for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~")) t[c] = true;
    return t;
  }();
  return !s.empty() && s.size() <= kMaxField && std::all_of(s.begin(), s.end(), [](char c) {
    return kTchar[static_cast<unsigned char>(c)];
  });
}
bool is_field_value(std::string_view s) {
  // A plain loop: find_first_of calls memchr once per character (1 % of a plugin route's
  // CPU went there).
  return s.size() <= kMaxField && std::none_of(s.begin(), s.end(), [](char c) {
           return c == '\r' || c == '\n' || c == '\0';
         });
}
// Also a final status of three digits: Beast writes any number, and 1xx is not an answer.
bool is_writable(const Response& r) {
  return r.status >= 200 && r.status <= 599 && is_field_value(r.content_type) &&
         std::all_of(r.headers.begin(), r.headers.end(),
                     [](const auto& h) { return is_token(h.first) && is_field_value(h.second); });
}

// The caller's lookup as its own coroutine: it owns the headers it reads, so that it may
// outlive a 504 at its deadline.
Task<std::optional<AuthContext>> look_up(const Authenticate& authenticate, IncomingRequest who) {
  co_return co_await authenticate(who);
}

// The path as handlers get it, "/" and the segments joined by "/": the decoded path itself
// when it is that already (the usual case), else built.
std::string normal_path(std::string decoded, const std::vector<std::string>& segments) {
  std::size_t length = segments.empty() ? 1 : 0;
  for (const auto& s : segments) length += 1 + s.size();
  if (decoded.size() == length && decoded.front() == '/' &&
      (segments.empty() || decoded.back() != '/') && decoded.find("//") == std::string::npos)
    return decoded;
  std::string path;
  path.reserve(length);
  for (const auto& s : segments) path.append("/").append(s);
  if (path.empty()) path = "/";
  return path;
}

void check_media_type(const RouteSpec& spec, const IncomingRequest& in) {
  if (in.body.empty()) return;
  if (spec.accepts.size() == 1 && spec.accepts.front() == "*/*") return;  // the handler judges
  const std::string* ct = in.header("content-type");
  const std::string type = ct ? media_type(*ct) : "";
  if (std::find(spec.accepts.begin(), spec.accepts.end(), type) == spec.accepts.end())
    throw HttpError(415, "unsupported_media_type",
                    "send the body as " + join(spec.accepts, " or "));
}

Task<Response> ready(Response answer) { co_return answer; }

// A Route::before_upload as a call answering 204 when it lets the upload through (parameters
// by value: the coroutine owns them).
Task<Response> check_upload(std::function<Task<void>(Request)> check, Request request) {
  co_await check(std::move(request));
  Response ok;
  ok.status = 204;
  co_return ok;
}

// The route's policy, once the caller is known: roles, CSRF, media type.
void admit(const RouteSpec& spec, const IncomingRequest& in,
           const std::optional<AuthContext>& auth) {
  if (!spec.roles.empty()) {
    if (!auth) throw HttpError(401, "unauthenticated", "log in first");
    if (!role_allows(spec.roles, auth->identity))
      throw HttpError(403, "forbidden", "your role does not allow this");
    if (!spec.service.empty() && !auth->identity.may_use(spec.service))
      throw HttpError(403, "not_granted",
                      "your organisation has not opened this service to you: ask its référent");
  }
  check_csrf(spec, in, auth);
  check_media_type(spec, in);
}

// A database that cannot be reached: 503, to try again shortly (the store reconnects itself).
Response store_unavailable(const StoreUnavailable& e, std::string_view route,
                           std::string_view request_id) {
  log::warn("http", "store unavailable",
            {{"request_id", request_id}, {"route", route}, {"error", e.what()}});
  Response r =
      error_response(503, "store_unavailable",
                     "the service is briefly unavailable; try again in a few seconds", request_id);
  r.headers.emplace_back("Retry-After", std::to_string(kStoreRetryAfterSeconds));
  return r;
}

// The answer to a request that threw: its HttpError, else a 500 whose cause is in the log.
Response error_answer(std::exception_ptr error, const RouteStats& stats,
                      std::string_view request_id) {
  try {
    std::rethrow_exception(error);
  } catch (const HttpError& e) {
    return error_response(e, request_id);
  } catch (const StoreUnavailable& e) {
    return store_unavailable(e, stats.label(), request_id);
  } catch (const std::exception& e) {
    log::error("http", "request failed",
               {{"request_id", request_id}, {"route", stats.label()}, {"error", e.what()}});
  } catch (...) {
    log::error("http", "request failed",
               {{"request_id", request_id}, {"route", stats.label()}, {"error", "unknown"}});
  }
  return error_response(500, "internal_error", "internal error, see the log for this request id",
                        request_id);
}

// Every answer goes out through here: one a handler malformed becomes a 500, and the route's
// counters (atomics resolved when its table was built: no lookup, no lock) count it.
Response complete(Response answer, RouteStats& stats, std::chrono::steady_clock::time_point started,
                  std::string_view request_id) {
  if (!is_writable(answer)) {
    log::error("http", "handler answered a malformed status or header",
               {{"request_id", request_id}, {"route", stats.label()}, {"status", answer.status}});
    answer = error_response(500, "internal_error",
                            "internal error, see the log for this request id", request_id);
  }
  stats.record(answer.status, std::chrono::steady_clock::now() - started);
  return answer;
}

}  // namespace

Dispatcher::Dispatcher(PluginHost& plugins, MetricsRegistry& metrics, Authenticate authenticate,
                       std::vector<CoreRoute> core_routes,
                       std::chrono::milliseconds default_deadline)
    : plugins_(plugins),
      metrics_(metrics),
      authenticate_(std::move(authenticate)),
      core_routes_(std::move(core_routes)),
      default_deadline_(default_deadline),
      unmatched_(metrics.route("", "unmatched")) {
  Router probe;
  std::string error;
  for (auto& core : core_routes_) {
    check_declaration(core.spec);
    // An immediate route answers at once (CoreRoute::answer); any other is awaited (handler).
    if (core.spec.immediate ? (!core.answer || core.handler) : (!core.handler || core.answer))
      throw std::logic_error("route " + core.spec.method + " " + core.spec.path +
                             (core.spec.immediate
                                  ? " is immediate: it needs an answer, not a handler"
                                  : " needs a handler (an answer only if immediate)"));
    if (!probe.add(core.spec.method, core.spec.path, 0, error)) throw std::logic_error(error);
    if (core.spec.deadline.count() <= 0) core.spec.deadline = default_deadline_;
  }
}

Dispatcher::~Dispatcher() = default;

std::shared_ptr<const Dispatcher::Routes> Dispatcher::current_routes() {
  auto table = plugins_.table();
  auto current = routes_.load();
  if (current && current->plugins == table) return current;

  // The plugin host published a new table: rebuild (rare; two threads may both do it, alike).
  auto next = std::make_shared<Routes>();
  next->plugins = table;
  std::string error;
  for (const auto& core : core_routes_) {
    next->router.add(core.spec.method, core.spec.path, next->targets.size(), error);
    std::string label = core.spec.method + " " + core.spec.path;
    RouteStats& stats = metrics_.route("", label);
    next->targets.push_back({core.spec, &core, nullptr, std::move(label), &stats});
  }
  for (const auto& target : table->targets) {
    const Route& route = *target.route;
    // A plugin route is always authenticated and CSRF-checked; its deadline is from the config.
    RouteSpec spec{.method = route.method,
                   .path = route.path,
                   .roles = route.roles,
                   .deadline = target.timeout,
                   .immediate = route.immediate,
                   .bounded = route.bounded,
                   .accepts = route.accepts,
                   .uploads = route.uploads,
                   .streams_body = route.streams_body && !route.uploads,
                   .max_body_bytes = route.max_body_bytes};
    if (route.needs_grant && !route.roles.empty()) spec.service = target.plugin->info().name;
    if (spec.uploads) spec.accepts = {"multipart/form-data"};
    if (spec.streams_body) {
      spec.accepts = {"*/*"};  // the handler reads the body as it comes: it judges
      next->streams = true;
    }
    if (!next->router.add(spec.method, spec.path, next->targets.size(), error)) {
      log::error("http", "plugin route refused: the path is taken",
                 {{"plugin", target.plugin->info().name}, {"error", error}});
      continue;
    }
    std::string label = spec.method + " " + spec.path;
    RouteStats& stats = metrics_.route(target.plugin->info().name, label);
    next->targets.push_back({std::move(spec), nullptr, &target, std::move(label), &stats});
  }
  for (const auto& plugin : table->plugins)
    if (plugin->state() != LoadedPlugin::State::running) {
      const std::string& name = plugin->info().name;
      next->down.push_back({name, &metrics_.route(name, "* /api/" + name + "/... (unavailable)")});
    }
  routes_.store(next);
  return next;
}

std::optional<BodyStreaming> Dispatcher::streams_body(std::string_view method,
                                                      std::string_view target, bool multipart) {
  AttachmentStore* store = plugins_.attachments();
  const auto routes = current_routes();
  // Most bodies go to routes that take them whole: no lookup for them.
  if (!routes->streams && !(multipart && store)) return std::nullopt;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  const std::string decoded = url->path();
  const auto segments = Router::split(decoded);
  const Router::Result found = routes->router.find(std::string(method), segments);
  if (found.outcome != Router::Outcome::found) return std::nullopt;
  const RouteSpec& spec = routes->targets[found.match.id].spec;
  if (spec.uploads) {
    if (multipart && store) return store->streaming();
    return std::nullopt;
  }
  if (spec.streams_body) return BodyStreaming{spec.max_body_bytes, spec.deadline};
  return std::nullopt;
}

Handled Dispatcher::start(IncomingRequest request, const asio::any_io_executor& executor) {
  Pending pending;
  pending.started = std::chrono::steady_clock::now();
  pending.stats = &unmatched_;  // the route's own once matched
  const IdCopy id(request.request_id);
  std::optional<Response> answer;
  try {
    answer = route(std::move(request), executor, pending);
  } catch (...) {
    answer.emplace(error_answer(std::current_exception(), *pending.stats, id.view()));
  }
  if (!answer) {
    if (!answers_directly(pending)) return {.rest = finish(std::move(pending))};
    try {
      return {.rest = call_directly(pending)};
    } catch (...) {
      answer.emplace(error_answer(std::current_exception(), *pending.stats, id.view()));
    }
  }
  return {.answer = complete(std::move(*answer), *pending.stats, pending.started, id.view())};
}

// Whether finish() has nothing to do but await the handler: a plugin route that bounds its own
// waits (or answers from memory), its caller known, no upload to receive, no change to settle,
// and a body as the route takes it (call() answers the other case).
bool Dispatcher::answers_directly(const Pending& pending) const {
  const Target& target = *pending.target;
  return target.plugin && (target.spec.immediate || target.spec.bounded) && !pending.look_up &&
         !target.spec.uploads && !settles(pending.in) &&
         (!pending.in.body_source || target.spec.streams_body);
}

// Whether the request's changes are told to the other instances before it is answered.
bool Dispatcher::settles(const IncomingRequest& in) const {
  return settle_ && in.method != "GET" && in.method != "HEAD";
}

// Such a route's handler, made now and awaited with what finish() would have done after it
// (Closing): the request's frames then hold no copy of the pending request.
Task<Response> Dispatcher::call_directly(Pending& pending) {
  const Target& target = *pending.target;
  Closing closing{std::move(pending.routes), std::move(pending.in_route), pending.stats,
                  pending.started, IdCopy(pending.in.request_id)};
  Request request = plugin_request(pending, true);
  return call_plugin(target, std::move(request), {}, false, &pending.entered, std::move(closing));
}

// Matches the request to its route and applies the route's policy; answers it when nothing
// has to wait (an error, or an immediate core route with its caller known in memory), else
// leaves the rest in `pending`.
std::optional<Response> Dispatcher::route(IncomingRequest&& in,
                                          const asio::any_io_executor& executor, Pending& pending) {
  std::optional<std::map<std::string, std::string>> query;
  std::string decoded;
  std::string_view encoded_path = in.target;
  if (is_bare_path(in.target)) {
    query.emplace();
    decoded = in.target;
  } else {
    auto url = boost::urls::parse_origin_form(in.target);
    if (!url) throw HttpError(400, "bad_request", "malformed request target");
    query = parse_form(url->encoded_query());
    if (!query) throw HttpError(400, "bad_request", "malformed query string");
    decoded = url->path();
    encoded_path = url->encoded_path();  // a view into in.target
  }
  const auto segments = Router::split(decoded);
  if (!is_plain_path(encoded_path, decoded, segments))
    throw HttpError(400, "bad_request", "malformed path");
  // Handlers get the path the router matched: "//a//b/" is "/a/b" to both.
  std::string path = normal_path(std::move(decoded), segments);

  std::shared_ptr<const Routes> routes;  // held to the end: targets point into it
  Router::Result found;
  const Target* chosen = nullptr;
  Entered entered;
  for (int attempt = 0;; ++attempt) {
    routes = current_routes();
    found = routes->router.find(in.method, segments);
    if (found.outcome == Router::Outcome::method_not_allowed) {
      Response r = error_response(405, "method_not_allowed",
                                  "method " + in.method + " is not allowed here", in.request_id);
      r.headers.emplace_back("Allow", join(found.allowed, ", "));
      return r;
    }
    if (found.outcome == Router::Outcome::not_found) {
      if (segments.size() >= 2 && segments[0] == "api") {
        for (const auto& down : routes->down)
          if (down.name == segments[1]) {
            pending.stats = down.stats;
            throw HttpError(503, "plugin_unavailable",
                            "the service " + segments[1] + " is unavailable");
          }
      }
      throw HttpError(404, "not_found", "no such resource");
    }
    chosen = &routes->targets[found.match.id];
    pending.stats = chosen->stats;
    if (!chosen->plugin) break;
    // Counted from here, so that a plugin being replaced waits for this request. A plugin
    // closed meanwhile (the table read a moment before its successor's) is looked up again.
    LoadedPlugin& plugin = *chosen->plugin->plugin;
    if (plugin.try_enter()) {
      entered = Entered(&plugin);
      break;
    }
    if (attempt > 0) {
      Response r = error_response(
          503, "plugin_unavailable",
          "the service " + plugin.info().name + " is being replaced; try again", in.request_id);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
  const Target& target = *chosen;
  pending.in_route = RouteEntered(chosen->stats);
  if (target.plugin) {
    // At its limit (config max_concurrent): refused at once, the other plugins unaffected.
    const LoadedPlugin& plugin = *target.plugin->plugin;
    if (plugin.max_concurrent > 0 &&
        plugin.in_flight.load(std::memory_order_relaxed) > plugin.max_concurrent) {
      Response r = error_response(
          503, "plugin_busy",
          "the service " + plugin.info().name + " is busy; try again in a moment", in.request_id);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
  std::optional<AuthContext> auth;
  bool known = !target.spec.authenticate;
  if (!known && authenticate_now_) {
    // A caller known in memory is answered here; else the store is asked, in finish().
    if (auto now = authenticate_now_(in, executor)) {
      auth = std::move(*now);
      known = true;
    }
  }
  if (known) {
    admit(target.spec, in, auth);
    if (target.core && target.core->answer && !target.spec.uploads) {
      CoreRequest request{std::move(in), std::move(path), std::move(found.match.params),
                          std::move(*query), std::move(auth)};
      return target.core->answer(request);
    }
  }
  pending.routes = std::move(routes);
  pending.entered = std::move(entered);
  pending.target = &target;
  pending.look_up = !known;
  pending.in = std::move(in);
  pending.path = std::move(path);
  pending.params = std::move(found.match.params);
  pending.query = std::move(*query);
  pending.auth = std::move(auth);
  return std::nullopt;
}

// The rest of a request route() could not answer at once: the caller's lookup, then the
// handler, under their deadlines.
Task<Response> Dispatcher::finish(Pending pending) {
  const IdCopy id(pending.in.request_id);
  const bool writes = settles(pending.in);
  std::optional<Response> answer;
  std::vector<Attachment> received;  // an upload's files: removed unless the handler took them
  try {
    if (pending.look_up) {
      auto caller = co_await authenticate_within(*pending.target, pending.in);
      pending.auth = std::move(caller);
      admit(pending.target->spec, pending.in, pending.auth);
    }
    std::optional<Response> refused;
    if (pending.target->spec.uploads) {
      refused = co_await receive_files(pending);
      received = pending.files;
    }
    if (refused) {
      answer = std::move(refused);
    } else {
      Response answered = co_await call(pending);
      answer.emplace(std::move(answered));
    }
  } catch (...) {
    answer.emplace(error_answer(std::current_exception(), *pending.stats, id.view()));
  }
  // A handler past its deadline (504) may still be running and take the files: they stay.
  if (!received.empty() && (answer->status < 200 || answer->status > 299) &&
      answer->status != 504) {
    try {
      co_await plugins_.attachments()->discard(std::move(received));
    } catch (const std::exception& e) {
      log::error("http", "files of a refused upload not removed",
                 {{"request_id", id.view()}, {"error", e.what()}});
    }
  }
  if (writes) {
    try {
      co_await settle_();
    } catch (const std::exception& e) {  // the change is made: answer it all the same
      log::warn("http", "changes not yet told to other instances", {{"error", e.what()}});
    }
  }
  co_return complete(std::move(*answer), *pending.stats, pending.started, id.view());
}

// An upload route's body, read now that the caller is admitted: its files typed, scanned and
// kept (AttachmentStore), its text fields in `pending.form`.
Task<std::optional<Response>> Dispatcher::receive_files(Pending& pending) {
  AttachmentStore* store = plugins_.attachments();
  if (!store) throw HttpError(503, "attachments_unavailable", "files are not accepted here");
  if (!pending.in.body_source)
    throw HttpError(415, "unsupported_media_type", "send the files as multipart/form-data");
  if (pending.target->plugin->route->before_upload) {
    // The plugin's word on this record first: a refusal costs no byte of the body.
    Request probe;
    probe.method = pending.in.method;
    probe.path = pending.path;
    probe.path_params = pending.params;
    probe.query = pending.query;
    for (const auto& [k, v] : pending.in.headers)
      if (k != "cookie" && k != "authorization") probe.headers.emplace(k, v);
    if (pending.auth) probe.identity = pending.auth->identity;
    probe.request_id = pending.in.request_id;
    Response checked = co_await call_plugin(*pending.target, std::move(probe),
                                            pending.in.request_id, /*before_upload=*/true);
    if (checked.status >= 300) co_return checked;
  }
  const std::string* header = pending.in.header("content-type");
  // Named first: g++ 12 destroys a temporary of a co_await expression twice.
  std::string type = header ? *header : std::string();
  std::string plugin = pending.target->plugin->plugin->info().name;
  auto received =
      co_await store->receive(*pending.in.body_source, std::move(type), std::move(plugin));
  pending.in.body_source = nullptr;  // read whole
  pending.form = std::move(received.form);
  pending.files = std::move(received.files);
  co_return std::nullopt;
}

// The handler's call, to be awaited: built here, started by the co_await (not a coroutine
// itself: one frame less per request).
Task<Response> Dispatcher::call(Pending& pending) {
  const Target& target = *pending.target;
  if (target.core) {
    CoreRequest request{std::move(pending.in), std::move(pending.path), std::move(pending.params),
                        std::move(pending.query), std::move(pending.auth)};
    // An immediate route whose caller the store had to tell: answered now that it is known.
    if (target.core->answer) return ready(target.core->answer(request));
    return call_core(target, std::move(request));
  }
  IncomingRequest& in = pending.in;
  // The session chose to leave the body unread for a route that streams it, and the route table
  // changed meanwhile (a plugin upgraded or replaced): this route wants it whole. It is not
  // handed an empty body: the client tries again.
  if (in.body_source && !target.spec.streams_body && !target.spec.uploads) {
    HttpError changed(503, "plugin_unavailable",
                      "the service " + target.plugin->plugin->info().name +
                          " changed while the request came; try again");
    Response r = error_response(changed, in.request_id);
    r.headers.emplace_back("Retry-After", "1");
    return ready(std::move(r));
  }
  Request request = plugin_request(pending, false);
  return call_plugin(target, std::move(request), in.request_id, false, &pending.entered);
}

// The request as a plugin sees it, moved out of `pending` (its id too when `take_id`; else it
// stays, for the answer).
Request Dispatcher::plugin_request(Pending& pending, bool take_id) {
  const Target& target = *pending.target;
  IncomingRequest& in = pending.in;
  Request request;
  request.method = in.method;
  request.path = std::move(pending.path);
  request.path_params = std::move(pending.params);
  request.query = std::move(pending.query);
  if (const auto q = in.target.find('?'); q != std::string::npos)
    request.raw_query = in.target.substr(q + 1);
  // Moved: nothing reads the request's headers after this (the id stays, for the answer).
  for (auto& [k, v] : in.headers)
    // The first value of a repeated header, as IncomingRequest::header() gives the core.
    if (k != "cookie" && k != "authorization") request.headers.emplace(std::move(k), std::move(v));
  request.body = std::move(in.body);
  if (target.spec.streams_body) request.body_stream = in.body_source;
  request.form = std::move(pending.form);
  request.files = std::move(pending.files);
  if (pending.auth) request.identity = std::move(pending.auth->identity);
  if (take_id)
    request.request_id = std::move(in.request_id);
  else
    request.request_id = in.request_id;
  return request;
}

// A caller not known in memory (route() asked): the lookup reads the store, under the route's
// deadline too, so that a busy store costs a 504 rather than a request that waits with no
// timer at all (the session has none meanwhile).
Task<std::optional<AuthContext>> Dispatcher::authenticate_within(const Target& target,
                                                                 const IncomingRequest& in) {
  auto executor = co_await asio::this_coro::executor;
  IncomingRequest who;  // all but the body, which the lookup does not read
  who.method = in.method;
  who.target = in.target;
  who.headers = in.headers;
  who.remote = in.remote;
  who.request_id = in.request_id;
  Task<std::optional<AuthContext>> lookup = look_up(authenticate_, std::move(who));
  auto call = DeadlineCall<std::optional<AuthContext>>::start(executor, std::move(lookup),
                                                              target.spec.deadline);
  CallOutcome<std::optional<AuthContext>> outcome;
  if (call->done())
    outcome = call->take();
  else
    outcome = co_await call->result();
  if (outcome.timed_out) {
    log::error("http", "caller lookup timed out",
               {{"request_id", in.request_id},
                {"route", target.label},
                {"timeout_ms", target.spec.deadline.count()}});
    throw HttpError(504, "timeout", "the gateway did not answer in time");
  }
  if (outcome.error) std::rethrow_exception(outcome.error);
  co_return std::move(*outcome.value);
}

Task<Response> Dispatcher::call_core(const Target& target, CoreRequest request) {
  const std::string request_id = request.in.request_id;
  auto executor = co_await asio::this_coro::executor;
  Task<Response> handler = target.core->handler(std::move(request));
  auto call = DeadlineCall<Response>::start(executor, std::move(handler), target.spec.deadline);
  CallOutcome<Response> outcome;
  if (call->done())
    outcome = call->take();
  else
    outcome = co_await call->result();
  if (outcome.timed_out) {
    log::error("http", "handler timed out",
               {{"request_id", request_id},
                {"route", target.label},
                {"timeout_ms", target.spec.deadline.count()}});
    throw HttpError(504, "timeout", "the gateway did not answer in time");
  }
  if (outcome.error) std::rethrow_exception(outcome.error);  // handle() answers it
  co_return std::move(*outcome.value);
}

Task<Response> Dispatcher::call_plugin(const Target& target, Request request,
                                       std::string_view request_id, bool before_upload,
                                       Entered* entered, std::optional<Closing> closing) {
  Entered counted;  // the request's count, taken over by the call
  if (entered) counted = std::move(*entered);
  const RouteTable::Target& plugin_target = *target.plugin;
  if ((target.spec.immediate || target.spec.bounded) && !before_upload) {
    // Answers from memory (Route::immediate) or bounds its own waits (Route::bounded): awaited
    // as it is, no deadline race. Its coroutine is made here, which moves the request into it:
    // the one awaiting it holds no copy. (An upload's before_upload is the plugin's own code:
    // under a deadline.)
    InFlight held(plugin_target.plugin, std::move(counted));
    Task<Response> handler;
    std::exception_ptr failed;
    try {
      handler = plugin_target.route->handler(std::move(request));
    } catch (...) {
      failed = std::current_exception();
    }
    return await_plugin(std::move(held), target, std::move(handler), std::move(failed), request_id,
                        std::move(closing));
  }
  return call_plugin_within(target, std::move(request), request_id, before_upload,
                            std::move(counted));
}

Task<Response> Dispatcher::await_plugin(InFlight held, const Target& target, Task<Response> handler,
                                        std::exception_ptr failed, std::string_view request_id,
                                        std::optional<Closing> closing) {
  if (closing) request_id = closing->id.view();
  PluginOutcome<Response> outcome;
  outcome.error = std::move(failed);
  const auto started = std::chrono::steady_clock::now();
  if (!outcome.error) {
    try {
      outcome.value.emplace(co_await std::move(handler));
    } catch (...) {
      outcome.error = std::current_exception();
    }
  }
  const auto took = std::chrono::steady_clock::now() - started;
  if (target.spec.immediate && took > kImmediateTooLong)
    log::warn("http", "a route declared immediate waited: it has no deadline",
              {{"request_id", request_id},
               {"plugin", held.plugin->info().name},
               {"route", target.label},
               {"took_ms", std::chrono::duration_cast<std::chrono::milliseconds>(took).count()}});
  if (!closing) co_return plugin_answer(target, outcome, request_id);
  // What finish() does once a handler is done: an error's answer, then the route's counters.
  std::optional<Response> answer;
  try {
    answer.emplace(plugin_answer(target, outcome, request_id));
  } catch (...) {
    answer.emplace(error_answer(std::current_exception(), *closing->stats, request_id));
  }
  co_return complete(std::move(*answer), *closing->stats, closing->started, request_id);
}

Task<Response> Dispatcher::call_plugin_within(const Target& target, Request request,
                                              std::string_view request_id, bool before_upload,
                                              Entered counted) {
  const RouteTable::Target& plugin_target = *target.plugin;
  auto executor = co_await asio::this_coro::executor;
  Task<Response> handler =
      before_upload ? check_upload(plugin_target.route->before_upload, std::move(request))
                    : plugin_target.route->handler(std::move(request));
  // Holds the plugin while the outcome is looked at: an exception's code is in its library.
  auto call = PluginCall<Response>::start(executor, std::move(handler), target.spec.deadline,
                                          plugin_target.plugin, std::move(counted));
  // A handler that answered without waiting (from memory) has ended already: no wait.
  PluginOutcome<Response> outcome;
  if (call->done())
    outcome = call->take();
  else
    outcome = co_await call->result();
  // A handler reading its body as it comes reads memory of the session's (the body's parser
  // and buffers): the answer waits until the handler, asked to stop, has really ended.
  if (outcome.timed_out && target.spec.streams_body) co_await call->ended();
  co_return plugin_answer(target, outcome, request_id);
}

// What a plugin's call came to, looked at while the caller holds the plugin (its exceptions'
// code and its streams' are in its library): the answer, or the error's.
Response Dispatcher::plugin_answer(const Target& target, PluginOutcome<Response>& outcome,
                                   std::string_view request_id) {
  const RouteTable::Target& plugin_target = *target.plugin;
  const std::string& plugin_name = plugin_target.plugin->info().name;
  if (outcome.timed_out) {
    log::error("http", "plugin handler timed out",
               {{"request_id", request_id},
                {"plugin", plugin_name},
                {"timeout_ms", target.spec.deadline.count()}});
    throw HttpError(504, "plugin_timeout",
                    "the service " + plugin_name + " did not answer in time");
  }
  if (outcome.error) {
    try {
      std::rethrow_exception(outcome.error);
    } catch (const HttpError& e) {
      return error_response(e, request_id);
    } catch (const StoreUnavailable& e) {
      return store_unavailable(e, target.label, request_id);
    } catch (const std::exception& e) {
      log::error("http", "plugin handler failed",
                 {{"request_id", request_id}, {"plugin", plugin_name}, {"error", e.what()}});
    } catch (...) {
      log::error("http", "plugin handler failed",
                 {{"request_id", request_id}, {"plugin", plugin_name}, {"error", "unknown"}});
    }
    return error_response(
        500, "plugin_error",
        "the service " + plugin_name + " failed; request id " + std::string(request_id),
        request_id);
  }
  Response answer = std::move(*outcome.value);
  // A streamed answer is read after the handler returned: it holds its plugin in flight (and
  // so loaded, and not stopped) until it is read to its end or dropped.
  if (answer.stream)
    answer.stream = std::make_shared<PluginStream>(std::move(answer.stream), plugin_target.plugin);
  return answer;
}

}  // namespace passerelle
