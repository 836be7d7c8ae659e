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
  // The page's deadline leaves time to answer once the slowest widget gave up; it also bounds
  // a widget declared immediate that waits all the same.
  RouteSpec spec{.method = "GET",
                 .path = "/api/dashboard",
                 .roles = {"*"},
                 .deadline = timeout + std::chrono::seconds(2)};
  return {std::move(spec), [&plugins, timeout](CoreRequest in) -> Task<Response> {
            const Identity& identity = in.caller().identity;
            auto executor = co_await boost::asio::this_coro::executor;
            const auto table = plugins.table();
            // One slot per running plugin, in order: a widget that answers from memory
            // (Plugin::widget_immediate) is called here; the others are all started before the
            // first is awaited.
            struct Slot {
              std::shared_ptr<LoadedPlugin> plugin;
              PluginOutcome<Widget> outcome;
              std::shared_ptr<PluginCall<Widget>> call;
              bool busy = false;  // at its limit: not called
            };
            std::vector<Slot> slots;
            slots.reserve(table->plugins.size());
            for (const auto& plugin : table->plugins) {
              if (plugin->state() != LoadedPlugin::State::running) continue;
              // Only the services the caller's organisation opened to them.
              if (!identity.may_use(plugin->info().name)) continue;
              Slot& slot = slots.emplace_back();
              slot.plugin = plugin;
              if ((slot.busy = plugin->busy())) continue;  // shown unavailable
              if (plugin->plugin().widget_immediate()) {
                const InFlight held(plugin);
                try {
                  slot.outcome.value.emplace(co_await plugin->plugin().widget(identity));
                } catch (...) {
                  // Shown as unavailable. The exception is not kept: its code is the plugin's
                  // library, which only `held` keeps loaded.
                }
              } else {
                Task<Widget> widget = plugin->plugin().widget(identity);
                slot.call = PluginCall<Widget>::start(executor, std::move(widget), timeout, plugin);
              }
            }
            json::array widgets;
            for (Slot& slot : slots) {
              if (slot.call && slot.call->done())
                slot.outcome = slot.call->take();
              else if (slot.call)
                slot.outcome = co_await slot.call->result();
              const PluginOutcome<Widget>& outcome = slot.outcome;
              if (outcome.value && !*outcome.value) continue;  // nothing to show for this user
              const std::string& name = slot.plugin->info().name;
              json::object entry{{"plugin", name}};
              if (outcome.value) {
                entry["widget"] = std::move(*slot.outcome.value.value());
              } else {
                entry["unavailable"] = true;
                log::warn("dashboard",
                          slot.busy           ? "widget skipped: its plugin is busy"
                          : outcome.timed_out ? "widget timed out"
                                              : "widget failed",
                          {{"plugin", name}, {"request_id", in.in.request_id}});
              }
              widgets.push_back(std::move(entry));
            }
            co_return Response::json(json::object{{"widgets", std::move(widgets)}});
          }};
}

}  // namespace passerelle
