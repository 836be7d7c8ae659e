// GET /api/dashboard: the widget of every running plugin for the caller, gathered in parallel;
// a plugin that fails or is slow shows as unavailable and the others are still there.
#pragma once

#include "http/route_spec.hpp"

#include <chrono>

namespace passerelle {

class PluginHost;

/// Any logged-in user; a widget gets `timeout`, the whole page a little more.
CoreRoute dashboard_route(PluginHost& plugins, std::chrono::milliseconds timeout);

}  // namespace passerelle
