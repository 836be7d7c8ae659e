// Every widget call starts before the first is awaited, so the page waits for the slowest
// widget at most `timeout`, not for their sum.
#include "http/dashboard.hpp"

#include "http/plugin_call.hpp"
#include "http/responses.hpp"
#include "log/log.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json/array.hpp>

namespace passerelle {

namespace json = boost::json;
using Widget = std::optional<json::value>;

CoreRoute dashboard_route(PluginHost& plugins, std::chrono::milliseconds timeout) {
  return {"GET", "/api/dashboard",
          [&plugins, timeout](IncomingRequest& in, const std::optional<AuthContext>& auth) -> Task<Response> {
            if (!auth) co_return error_response(401, "unauthenticated", "log in first", in.request_id);
            auto executor = co_await boost::asio::this_coro::executor;
            const auto table = plugins.table();
            std::vector<std::shared_ptr<PluginCall<Widget>>> calls;
            for (const auto& plugin : table->plugins) {
              if (plugin->state() != LoadedPlugin::State::running) continue;
              Task<Widget> widget = plugin->plugin().widget(auth->identity);
              calls.push_back(PluginCall<Widget>::start(executor, plugin, std::move(widget), timeout));
            }
            json::array widgets;
            for (auto& call : calls) {
              const std::string name = call->plugin()->info().name;
              PluginOutcome<Widget> outcome = co_await call->result();
              if (outcome.value && !*outcome.value) continue;  // nothing to show for this user
              json::object entry{{"plugin", name}};
              if (outcome.value) {
                entry["widget"] = std::move(**outcome.value);
              } else {
                entry["unavailable"] = true;
                log::warn("dashboard", outcome.timed_out ? "widget timed out" : "widget failed",
                          {{"plugin", name}, {"request_id", in.request_id}});
              }
              widgets.push_back(std::move(entry));
            }
            co_return Response::json(json::object{{"widgets", std::move(widgets)}});
          },
          true};
}

}  // namespace passerelle
