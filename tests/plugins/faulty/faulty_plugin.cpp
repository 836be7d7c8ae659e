// faulty: a test plugin whose handlers throw, hang or answer slowly, to prove that a bad plugin
// costs only its own requests.
#include "passerelle/sdk.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <stdexcept>

namespace passerelle::plugins::faulty {

class FaultyPlugin final : public Plugin {
 public:
  PluginInfo info() const override { return {"faulty", "0.0.1", "Misbehaves on purpose (tests)."}; }

  std::vector<ConfigField> config_schema() const override {
    return {{"fail_start", ConfigType::boolean, false, false, "Throw from start()"},
            {"hang_on_stop", ConfigType::boolean, false, false, "stop() never ends"},
            {"immediate_widget", ConfigType::boolean, false, false,
             "widget() declared immediate: it throws for agents, hangs for advisors all the "
             "same, shows nothing to others"}};
  }

  Task<void> start(Host& host) override {
    host_ = &host;
    immediate_widget_ = host.config().at("immediate_widget").as_bool();
    hang_on_stop_ = host.config().at("hang_on_stop").as_bool();
    if (host.config().at("fail_start").as_bool())
      throw std::runtime_error("start refused on purpose");
    co_return;
  }

  // With hang_on_stop: never ends (an hour's sleep), as a plugin stuck on a resource would.
  Task<void> stop() override {
    if (hang_on_stop_) co_await host_->sleep(std::chrono::hours(1));
  }

  std::vector<Route> routes() override {
    return {
        {"GET", "/api/faulty/throw", {}, [](Request) { return boom(); }},
        {"GET", "/api/faulty/http-error", {}, [](Request) { return teapot(); }},
        {"GET", "/api/faulty/hang", {}, [this](Request) { return hang(); }},
        {"GET", "/api/faulty/slow", {}, [this](Request r) { return slow(std::move(r)); }},
        {"GET", "/api/faulty/ok", {}, [](Request) { return ok(); }},
        {"GET", "/api/faulty/elu-only", {"elu"}, [](Request) { return ok(); }},
        {"POST", "/api/faulty/headers", {}, [](Request r) { return headers(std::move(r)); }},
        {"GET", "/api/faulty/status", {}, [](Request r) { return status(std::move(r)); }},
        {"GET", "/api/faulty/big", {}, [](Request r) { return big(std::move(r)); }},
        // The same, declared immediate (called inline, no deadline race).
        {.method = "GET",
         .path = "/api/faulty/now/throw",
         .roles = {},
         .handler = [](Request) { return boom(); },
         .immediate = true},
        {.method = "GET",
         .path = "/api/faulty/now/http-error",
         .roles = {},
         .handler = [](Request) { return teapot(); },
         .immediate = true},
        {.method = "GET",
         .path = "/api/faulty/now/ok",
         .roles = {},
         .handler = [](Request) { return ok(); },
         .immediate = true},
        {.method = "GET",
         .path = "/api/faulty/now/elu-only",
         .roles = {"elu"},
         .handler = [](Request) { return ok(); },
         .immediate = true},
    };
  }

  bool widget_immediate() const override { return immediate_widget_; }

  // Its widget fails for agents and hangs for advisors, even when it says it never waits.
  Task<std::optional<boost::json::value>> widget(Identity identity) override {
    if (identity.has_role("agent")) throw std::runtime_error("widget broken on purpose");
    if (identity.has_role("advisor")) co_await host_->sleep(std::chrono::hours(1));
    co_return std::nullopt;
  }

 private:
  static Task<Response> boom() {
    throw std::runtime_error("secret internal detail");
    co_return Response{};
  }
  static Task<Response> teapot() {
    throw HttpError(418, "teapot", "I am a teapot");
    co_return Response{};
  }
  // The path, the headers and the body the plugin was given, to check what reaches a plugin.
  static Task<Response> headers(Request r) {
    boost::json::array names;
    boost::json::object values;
    for (const auto& [name, value] : r.headers) {
      names.emplace_back(name);
      values[name] = value;
    }
    co_return Response::json(boost::json::object{{"path", r.path},
                                                 {"headers", std::move(names)},
                                                 {"values", std::move(values)},
                                                 {"body", r.body}});
  }
  // {"ok":true} with the status asked for, a body even where the status allows none.
  static Task<Response> status(Request r) {
    const int code = std::stoi(r.query_param("code").value_or("200"));
    co_return Response::json(boost::json::object{{"ok", true}}, code);
  }
  // A text body of `kb` KiB (default 256), to fill a client's socket.
  static Task<Response> big(Request r) {
    const int kb = std::clamp(std::stoi(r.query_param("kb").value_or("256")), 1, 4096);
    co_return Response::text(std::string(static_cast<std::size_t>(kb) * 1024, 'x'));
  }
  static Task<Response> ok() { co_return Response::json(boost::json::object{{"ok", true}}); }
  Task<Response> hang() {
    co_await host_->sleep(std::chrono::hours(1));
    co_return Response{};
  }
  Task<Response> slow(Request r) {
    const int ms = std::stoi(r.query_param("ms").value_or("200"));
    // Tests wait for this line to know the request is in its handler.
    host_->logger().info("slow request started");
    co_await host_->sleep(std::chrono::milliseconds(ms));
    co_return Response::json(boost::json::object{{"slept_ms", ms}});
  }

  Host* host_ = nullptr;
  bool immediate_widget_ = false;
  bool hang_on_stop_ = false;
};

}  // namespace passerelle::plugins::faulty

PASSERELLE_PLUGIN(passerelle::plugins::faulty::FaultyPlugin)
