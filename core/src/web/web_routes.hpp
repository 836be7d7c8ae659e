// The portal's routes: GET /assets/... (any file under the web root's assets/ folder) and each
// configured page path, answered with index.html, all from the in-memory snapshot.
#pragma once

#include "http/route_spec.hpp"
#include "web/static_site.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace passerelle {

/// The snapshot in force (nullptr: the portal is off and its paths answer 404).
using CurrentSite = std::function<std::shared_ptr<const StaticSite>()>;

/// The policy of HTML pages: no inline script or style, no framing, nothing from elsewhere.
inline constexpr const char* kPageCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'";

/// Public, immediate routes for the assets and for each of `pages`.
std::vector<CoreRoute> web_routes(CurrentSite site, const std::vector<std::string>& pages);

/// The response for file `name` of `site` to `in` (coding, caching, 304): for tests and routes.
Response serve_static(const StaticSite* site, const std::string& name, const IncomingRequest& in);

}  // namespace passerelle
