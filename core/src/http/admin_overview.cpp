// The operators' view of the plugins and of their traffic. It reads memory only (the history
// and the route counters), so it is answered inline.
#include "http/admin_overview.hpp"

#include "metrics/registry.hpp"
#include "plugins/plugin_host.hpp"
#include "util/clock.hpp"

#include <boost/json/array.hpp>

#include <cmath>

namespace passerelle {

namespace json = boost::json;

namespace {

json::array history_json(const std::vector<MinutePoint>& points) {
  json::array out;
  out.reserve(points.size());
  for (const auto& p : points) {
    json::object o{{"minute", p.minute}, {"requests", p.requests}, {"errors", p.errors}};
    o["error_rate"] =
        p.requests ? static_cast<double>(p.errors) / static_cast<double>(p.requests) : 0.0;
    // Milliseconds to the microsecond: enough for a chart, and short.
    if (p.p99_seconds)
      o["p99_ms"] = std::round(*p.p99_seconds * 1e6) / 1e3;
    else
      o["p99_ms"] = nullptr;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

json::object admin_overview(const PluginHost& plugins, const MetricsRegistry& metrics,
                            std::int64_t now) {
  json::array list;
  for (const auto& plugin : plugins.table()->plugins) {
    const auto state = plugin->state();
    json::object o{{"name", plugin->info().name},
                   {"version", plugin->info().version},
                   {"description", plugin->info().description},
                   {"state", state_name(state)},
                   {"loaded_at", plugin->loaded_at()}};
    if (state == LoadedPlugin::State::failed) o["failure"] = plugin->failure();
    o["history"] = history_json(metrics.last_hour(plugin->info().name, now));
    list.push_back(std::move(o));
  }
  return json::object{
      {"now", now},
      {"minute_seconds", MinuteHistory::kMinute},
      {"plugins", std::move(list)},
      {"core", json::object{{"history", history_json(metrics.last_hour("", now))}}}};
}

CoreRoute admin_overview_route(PluginHost& plugins, MetricsRegistry& metrics,
                               std::function<std::int64_t()> clock) {
  if (!clock) clock = unix_seconds;
  return {
      {.method = "GET", .path = "/api/admin/overview", .roles = {"operator"}, .immediate = true},
      {},
      [&plugins, &metrics, clock](CoreRequest&) {
        return Response::json(admin_overview(plugins, metrics, clock()));
      }};
}

}  // namespace passerelle
