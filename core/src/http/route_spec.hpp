// The declaration of a route, shared by the gateway's own features and by plugins: what the
// dispatcher applies before a handler runs (authentication, roles, CSRF, media types, deadline).
// Kept apart from the dispatcher and the plugin host so that features declaring routes (auth/,
// territories/) see neither.
#pragma once

#include "auth/auth_context.hpp"
#include "http/incoming.hpp"
#include "passerelle/http.hpp"
#include "passerelle/task.hpp"

#include <cassert>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace passerelle {

/// How a state-changing request (POST, PUT, PATCH, DELETE) proves it comes from our pages.
enum class Csrf {
  /// When authenticated by the session cookie: same origin and the session's token, in
  /// X-CSRF-Token or in the `csrf_token` field of a form body. Bearer tokens need nothing.
  session_token,
  /// Same origin only (Sec-Fetch-Site or Origin), with or without a session: the login form,
  /// which has no session token yet.
  same_origin_only,
  /// Nothing: server-to-server calls (OpenID Connect back-channel logout).
  none,
};

/// One route: method and path template, and the policy the dispatcher applies to it.
struct RouteSpec {
  std::string method{};  ///< GET, POST, PUT, PATCH or DELETE; a GET route answers HEAD too.
  std::string path{};    ///< Template such as "/api/territories/communes/{code}".
  /// Roles allowed: empty = public; {"*"} = any logged-in user; else any of these roles.
  std::vector<std::string> roles{};
  Csrf csrf = Csrf::session_token;
  /// False: the caller is never looked up (no session store read): health probes, the login
  /// form, OpenID Connect redirects. Only for public routes.
  bool authenticate = true;
  /// Deadline of the handler (504 after it); zero: the server's handler_timeout.
  std::chrono::milliseconds deadline{0};
  /// The handler only reads memory and never waits (no store, no network, no pool): it is
  /// called inline, without the coroutine and timer of a deadline. Measured on /healthz: the
  /// race against a deadline costs about a fifth of the throughput of such a route. A core
  /// route declared so has a CoreRoute::answer, called with no coroutine at all.
  bool immediate = false;
  /// A plugin route whose handler bounds its own waits (Route::bounded): awaited inline too,
  /// with no deadline raced against it.
  bool bounded = false;
  /// Media types accepted for a request body; a body of another type gets 415.
  std::vector<std::string> accepts = {"application/json"};
  /// A plugin's upload route (Route::uploads): its multipart body is read as it comes, once the
  /// caller is admitted, into the host's attachments.
  bool uploads = false;
  /// A plugin route that reads its body as it comes (Route::streams_body), within
  /// `max_body_bytes` (0: the server's limits.body_bytes) and its deadline.
  bool streams_body = false;
  std::uint64_t max_body_bytes = 0;
  /// A plugin route's service: élus and agents need its grant in their current organisation
  /// (Identity::may_use); empty: none needed.
  std::string service{};
};

/// What a core handler receives. It owns its data: the handler may outlive the client's wait
/// (a 504 at its deadline).
struct CoreRequest {
  IncomingRequest in;  ///< As read: every header (cookies too), body, remote, request id.
  std::string path;    ///< Decoded path, without the query.
  std::map<std::string, std::string> path_params;  ///< Values of `{name}` segments.
  std::map<std::string, std::string> query;        ///< Decoded query parameters (last wins).
  std::optional<AuthContext> auth;  ///< The caller, when the route authenticates and it is known.

  /// The caller of a route that requires a role (the dispatcher answered 401 without one).
  const AuthContext& caller() const {
    assert(auth.has_value() && "caller() on a route that requires no role");
    return *auth;
  }
};

/// A handler of the gateway itself; it throws HttpError to answer an error.
using CoreHandler = std::function<Task<Response>(CoreRequest)>;
/// The same for a route declared immediate: answers from memory, at once.
using CoreAnswer = std::function<Response(CoreRequest&)>;

/// A route of the gateway itself: a handler, or an answer when the route is immediate.
struct CoreRoute {
  RouteSpec spec;
  CoreHandler handler{};
  CoreAnswer answer{};
};

}  // namespace passerelle
