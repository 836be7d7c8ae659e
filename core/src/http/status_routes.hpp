// The gateway's own status endpoints: /healthz, /readyz, /api/plugins, /metrics.
#pragma once

#include "http/route_spec.hpp"

#include <functional>
#include <vector>

namespace passerelle {

class MetricsRegistry;
class PluginHost;

/// `store_available`: whether the store answers (PostgreSQL may not); nothing: it always does.
/// `metrics_from`: addresses that may read /metrics without logging in (operators may anyway).
std::vector<CoreRoute> status_routes(PluginHost& plugins, MetricsRegistry& metrics,
                                     std::function<bool()> store_available = {},
                                     std::vector<std::string> metrics_from = {});

}  // namespace passerelle
