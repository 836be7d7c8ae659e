// The application behind the server: core endpoints, then plugin routes with authorization,
// body checks and a deadline; every failure becomes the JSON error shape.
#pragma once

#include "auth/auth_context.hpp"
#include "http/incoming.hpp"
#include "metrics/registry.hpp"
#include "plugins/plugin_host.hpp"

#include <functional>
#include <optional>

namespace passerelle {

/// Finds who is calling (session cookie, bearer token); nothing means anonymous.
using Authenticate = std::function<Task<std::optional<AuthContext>>(const IncomingRequest&)>;

/// A route of the gateway itself, matched on the exact path, or below it when it ends in "/*".
struct CoreRoute {
  std::string method;
  std::string path;
  std::function<Task<Response>(IncomingRequest&, const std::optional<AuthContext>&)> handler;
  bool authenticate = true;  // false: no session lookup (health checks, login)
};

class Dispatcher final : public RequestHandler {
 public:
  Dispatcher(PluginHost& plugins, MetricsRegistry& metrics, Authenticate authenticate,
             std::vector<CoreRoute> core_routes = {});

  Task<Response> handle(IncomingRequest request) override;

 private:
  Task<Response> route(IncomingRequest& request);
  Task<Response> call_plugin(const RouteTable::Target& target, Request request);

  PluginHost& plugins_;
  MetricsRegistry& metrics_;
  Authenticate authenticate_;
  std::vector<CoreRoute> core_routes_;
};

/// Whether a state-changing request comes from our own pages: Sec-Fetch-Site same-origin, or
/// else an Origin equal to https://<Host>.
bool is_same_origin(const IncomingRequest& request);

/// CSRF check of a cookie-authenticated state-changing request: same origin and the session's
/// token in X-CSRF-Token (or `form_token`, from a form field).
bool passes_csrf(const IncomingRequest& request, const AuthContext& auth,
                 const std::string& form_token = "");

}  // namespace passerelle
