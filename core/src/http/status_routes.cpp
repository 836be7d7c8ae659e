// Liveness is the process answering; readiness is every plugin started. Metrics are for
// operators (session or API token).
#include "http/status_routes.hpp"

#include "http/responses.hpp"

#include <boost/json/object.hpp>

namespace passerelle {

std::vector<CoreRoute> status_routes(PluginHost& plugins, MetricsRegistry& metrics) {
  namespace json = boost::json;
  std::vector<CoreRoute> routes;
  routes.push_back({"GET", "/healthz",
                    [](IncomingRequest&, const std::optional<AuthContext>&) -> Task<Response> {
                      co_return Response::json(json::object{{"status", "ok"}});
                    },
                    false});
  routes.push_back({"GET", "/readyz",
                    [&plugins](IncomingRequest&, const std::optional<AuthContext>&) -> Task<Response> {
                      const bool ready = plugins.ready();
                      co_return Response::json(json::object{{"status", ready ? "ready" : "not_ready"},
                                                            {"plugins", plugins.describe()}},
                                               ready ? 200 : 503);
                    },
                    false});
  routes.push_back({"GET", "/api/plugins",
                    [&plugins](IncomingRequest&, const std::optional<AuthContext>&) -> Task<Response> {
                      co_return Response::json(json::object{{"plugins", plugins.describe()}});
                    },
                    false});
  routes.push_back({"GET", "/metrics",
                    [&metrics](IncomingRequest& in, const std::optional<AuthContext>& auth) -> Task<Response> {
                      if (!auth) co_return error_response(401, "unauthenticated", "log in first", in.request_id);
                      if (!auth->identity.has_role("operator"))
                        co_return error_response(403, "forbidden", "operators only", in.request_id);
                      co_return Response::text(metrics.render());
                    },
                    true});
  return routes;
}

}  // namespace passerelle
