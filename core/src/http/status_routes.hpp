// The gateway's own status endpoints: /healthz, /readyz, /api/plugins, /metrics.
#pragma once

#include "http/route_spec.hpp"

#include <vector>

namespace passerelle {

class MetricsRegistry;
class PluginHost;

std::vector<CoreRoute> status_routes(PluginHost& plugins, MetricsRegistry& metrics);

}  // namespace passerelle
