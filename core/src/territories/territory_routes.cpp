// Thin handlers over the in-memory index; input is bounded before any lookup.
#include "territories/territory_routes.hpp"

#include "http/responses.hpp"

#include <boost/json/array.hpp>
#include <boost/url/parse.hpp>

namespace passerelle {

namespace json = boost::json;

json::object commune_json(const Territories& t, const Commune& c) {
  json::array postal;
  for (const auto& pc : c.postal_codes) postal.emplace_back(pc);
  const Department* d = t.department(c.department);
  const Region* r = t.region(c.region);
  return {{"code", c.code},
          {"name", c.name},
          {"population", c.population},
          {"postal_codes", std::move(postal)},
          {"epci", c.epci},
          {"department", json::object{{"code", c.department}, {"name", d ? d->name : ""}}},
          {"region", json::object{{"code", c.region}, {"name", r ? r->name : ""}}}};
}

std::vector<CoreRoute> territory_routes(std::function<const Territories&()> territories) {
  std::vector<CoreRoute> routes;
  routes.push_back({"GET", "/api/territories/communes",
                    [territories](IncomingRequest& in, const std::optional<AuthContext>&) -> Task<Response> {
                      auto url = boost::urls::parse_origin_form(in.target);
                      std::string q, postal;
                      std::size_t limit = 10;
                      if (url)
                        for (auto p : url->params()) {
                          if (p.key == "q") q = p.value;
                          else if (p.key == "postal_code") postal = p.value;
                          else if (p.key == "limit") limit = std::clamp<std::size_t>(std::strtoul(p.value.c_str(), nullptr, 10), 1, 50);
                        }
                      if (q.size() > 100 || postal.size() > 5)
                        co_return error_response(400, "bad_request", "q: at most 100 characters; postal_code: 5 digits", in.request_id);
                      if (q.empty() == postal.empty())
                        co_return error_response(400, "bad_request", "give q (a name) or postal_code", in.request_id);
                      const Territories& t = territories();
                      auto found = q.empty() ? t.communes_by_postal_code(postal) : t.search(q, limit);
                      json::array items;
                      for (const Commune* c : found) items.push_back(commune_json(t, *c));
                      co_return Response::json(json::object{{"communes", std::move(items)}});
                    },
                    false});
  routes.push_back({"GET", "/api/territories/communes/*",
                    [territories](IncomingRequest& in, const std::optional<AuthContext>&) -> Task<Response> {
                      const std::string path = in.target.substr(0, in.target.find('?'));
                      const std::string code = path.substr(std::string("/api/territories/communes/").size());
                      const Territories& t = territories();
                      const Commune* c = code.size() <= 5 ? t.commune(code) : nullptr;
                      if (!c) co_return error_response(404, "not_found", "no commune with INSEE code " + code.substr(0, 10), in.request_id);
                      co_return Response::json(commune_json(t, *c));
                    },
                    false});
  return routes;
}

}  // namespace passerelle
