// The operators' runtime controls of the plugins: list, add from the configured plugin
// directory, upgrade (reload) and remove, without a restart and without dropping a request.
// Every change is audit-logged.
#pragma once

#include "http/route_spec.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace passerelle {

class MetricsRegistry;
class PluginHost;

/// GET /admin/plugins, POST /admin/plugins, POST /admin/plugins/{name}/reload and DELETE
/// /admin/plugins/{name}, for operators (session or API token). `plugin_dir`: where libraries
/// are loaded from (empty: none can be added); `grace`: how long a retired plugin's requests
/// may take to end before it is let go.
/// POST /admin/reload runs `reload_config`: the config file read again and its plugins applied
/// (it throws ConfigError, FILE:LINE:COL, when the file is refused: nothing changes).
std::vector<CoreRoute> admin_plugin_routes(
    PluginHost& plugins, MetricsRegistry& metrics, std::string plugin_dir,
    std::chrono::milliseconds grace, std::function<Task<boost::json::object>()> reload_config = {},
    std::vector<std::string> proxy_upstreams = {});

}  // namespace passerelle
