// Thin handlers over the in-memory index; input is bounded before any lookup.
#include "territories/territory_routes.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cstdlib>

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
  routes.push_back(
      {{.method = "GET",
        .path = "/api/territories/communes",
        .authenticate = false,
        .immediate = true},
       {},
       [territories](CoreRequest& req) {
         const std::string& q = req.query["q"];
         const std::string& postal = req.query["postal_code"];
         std::size_t limit = 10;
         if (auto it = req.query.find("limit"); it != req.query.end())
           limit = std::clamp<std::size_t>(std::strtoul(it->second.c_str(), nullptr, 10), 1, 50);
         if (q.size() > 100 || postal.size() > 5)
           throw HttpError(400, "bad_request", "q: at most 100 characters; postal_code: 5 digits");
         if (q.empty() == postal.empty())
           throw HttpError(400, "bad_request", "give q (a name) or postal_code");
         const Territories& t = territories();
         auto found = q.empty() ? t.communes_by_postal_code(postal) : t.search(q, limit);
         json::array items;
         for (const Commune* c : found) items.push_back(commune_json(t, *c));
         return Response::json(json::object{{"communes", std::move(items)}});
       }});
  routes.push_back({{.method = "GET",
                     .path = "/api/territories/communes/{code}",
                     .authenticate = false,
                     .immediate = true},
                    {},
                    [territories](CoreRequest& req) {
                      const std::string& code = req.path_params.at("code");
                      const Territories& t = territories();
                      const Commune* c = code.size() <= 5 ? t.commune(code) : nullptr;
                      if (!c)
                        throw HttpError(404, "not_found",
                                        "no commune with INSEE code " + code.substr(0, 10));
                      return Response::json(commune_json(t, *c));
                    }});
  return routes;
}

}  // namespace passerelle
