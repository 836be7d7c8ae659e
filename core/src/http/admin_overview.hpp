// GET /api/admin/overview, for operators: every plugin (version, state, when it was loaded)
// with its last hour of traffic minute by minute, and the same hour for the gateway's routes.
#pragma once

#include "http/route_spec.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>

namespace passerelle {

class MetricsRegistry;
class PluginHost;

/// The body of the overview at `now` (epoch seconds); the last point of each history is the
/// minute in progress.
boost::json::object admin_overview(const PluginHost& plugins, const MetricsRegistry& metrics,
                                   std::int64_t now);

/// The route; `clock` gives epoch seconds (the wall clock by default).
CoreRoute admin_overview_route(PluginHost& plugins, MetricsRegistry& metrics,
                               std::function<std::int64_t()> clock = {});

}  // namespace passerelle
