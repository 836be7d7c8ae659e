// Every widget call starts before the first is awaited, so the page waits for the slowest
// widget at most `timeout`, not for their sum.
#include "http/dashboard.hpp"

#include "http/plugin_call.hpp"
#include "log/log.hpp"
#include "plugins/plugin_host.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>

namespace passerelle {

namespace json = boost::json;
using Widget = std::optional<json::value>;

CoreRoute dashboard_route(PluginHost& plugins, std::chrono::milliseconds timeout) {
  // The page's deadline leaves time to answer once the slowest widget gave up.
  RouteSpec spec{.method = "GET",
                 .path = "/api/dashboard",
                 .roles = {"*"},
                 .deadline = timeout + std::chrono::seconds(2)};
  return {
      std::move(spec), [&plugins, timeout](CoreRequest in) -> Task<Response> {
        const Identity& identity = in.caller().identity;
        auto executor = co_await boost::asio::this_coro::executor;
        const auto table = plugins.table();
        std::vector<std::shared_ptr<PluginCall<Widget>>> calls;
        for (const auto& plugin : table->plugins) {
          if (plugin->state() != LoadedPlugin::State::running) continue;
          Task<Widget> widget = plugin->plugin().widget(identity);
          calls.push_back(PluginCall<Widget>::start(executor, std::move(widget), timeout, plugin));
        }
        json::array widgets;
        for (auto& call : calls) {
          const std::string name = call->guard().plugin->info().name;
          PluginOutcome<Widget> outcome = co_await call->result();
          if (outcome.value && !*outcome.value) continue;  // nothing to show for this user
          json::object entry{{"plugin", name}};
          if (outcome.value) {
            entry["widget"] = std::move(**outcome.value);
          } else {
            entry["unavailable"] = true;
            log::warn("dashboard", outcome.timed_out ? "widget timed out" : "widget failed",
                      {{"plugin", name}, {"request_id", in.in.request_id}});
          }
          widgets.push_back(std::move(entry));
        }
        co_return Response::json(json::object{{"widgets", std::move(widgets)}});
      }};
}

}  // namespace passerelle
