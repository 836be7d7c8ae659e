// The gateway's own status endpoints: /healthz, /readyz, /api/plugins, /metrics.
#pragma once

#include "http/dispatcher.hpp"

#include <vector>

namespace passerelle {

std::vector<CoreRoute> status_routes(PluginHost& plugins, MetricsRegistry& metrics);

}  // namespace passerelle
