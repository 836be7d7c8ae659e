// Liveness is the process answering; readiness is every plugin started. Probes never touch the
// session store; metrics are for operators (session or API token).
#include "http/status_routes.hpp"

#include "metrics/registry.hpp"
#include "plugins/plugin_host.hpp"

#include <boost/json/object.hpp>

#include <algorithm>

namespace passerelle {

namespace json = boost::json;

std::vector<CoreRoute> status_routes(PluginHost& plugins, MetricsRegistry& metrics,
                                     std::function<bool()> store_available,
                                     std::vector<std::string> metrics_from) {
  std::vector<CoreRoute> routes;
  routes.push_back({{.method = "GET", .path = "/healthz", .authenticate = false, .immediate = true},
                    {},
                    [](CoreRequest&) {
                      Response r;  // the same every time: no JSON value built per probe
                      r.body = R"({"status":"ok"})";
                      return r;
                    }});
  routes.push_back({{.method = "GET", .path = "/readyz", .authenticate = false, .immediate = true},
                    {},
                    [&plugins, store_available](CoreRequest& r) {
                      const bool store = !store_available || store_available();
                      const bool ready = plugins.ready() && store;
                      // Why a plugin failed, to probes on this machine only: the reason may
                      // name paths or hosts nobody outside needs to know.
                      // (Not through a proxy: its client, or what it passed on, is elsewhere.)
                      const bool local = (r.in.remote == "127.0.0.1" || r.in.remote == "::1") &&
                                         !r.in.header("x-forwarded-for") &&
                                         !r.in.header("forwarded");
                      json::object body{{"status", ready ? "ready" : "not_ready"},
                                        {"store", store ? "ok" : "unavailable"},
                                        {"plugins", plugins.describe(local)}};
                      return Response::json(body, ready ? 200 : 503);
                    }});
  routes.push_back(
      {{.method = "GET", .path = "/api/plugins", .authenticate = false, .immediate = true},
       {},
       [&plugins](CoreRequest&) {
         return Response::json(json::object{{"plugins", plugins.describe()}});
       }});
  // Operators (session or token), or the configured scrapers' addresses.
  routes.push_back({{.method = "GET", .path = "/metrics", .immediate = true},
                    {},
                    [&metrics, metrics_from](CoreRequest& r) {
                      const bool operator_ = r.auth && r.auth->identity.has_role("operator");
                      const bool scraper = std::find(metrics_from.begin(), metrics_from.end(),
                                                     r.in.remote) != metrics_from.end();
                      if (!operator_ && !scraper) {
                        if (!r.auth) throw HttpError(401, "unauthenticated", "log in first");
                        throw HttpError(403, "forbidden", "your role does not allow this");
                      }
                      return Response::text(metrics.render());
                    }});
  return routes;
}

}  // namespace passerelle
